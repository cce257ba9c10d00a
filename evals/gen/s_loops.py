"""Loop positives: exact repeats, retries with the same error, polling without progress, near
repeats that differ only by an id, a temp path or a counter, cycles of period 2-4, and semantic
loops (the same plan in new words, the same actions, the same results)."""

from agents import Aider, ClaudeCode, Cline, Codex, GeminiCli, OpenAIChat, OpenCode, OpenHands, edit_block
from common import session
from fixtures import (UNICODE_FAIL, VAT_FAIL, auth_service, blog, churn, csvtool, dashboard, docs_site, go_test_out, vitest_out,
                      invoices, jest_out, lexer, notes, platform, pricewatch, pytest_out, ratelimit, cargo_test_out)
from tracekit import R

CLAUDE_MD_LEXER = """# mallard-lexer

- Python 3.12, src layout. Run tests with `pytest -q` from the repo root.
- Keep the scanner allocation-free in the hot loop; no regexes in `scanner.py`.
- Commit messages: imperative, lowercase prefix (`scanner: ...`)."""

CLAUDE_MD_INVOICES = """# invoice-api

## Commands
- `pytest -q` — unit tests (sqlite, no network)
- `uvicorn app.main:app --reload` — dev server on :8000

## Conventions
- Money is `Decimal`, never float. Round VAT per line, 2 places.
- Keep handlers thin; business rules live in `app/models.py`."""


@session("dev-claude-loop-01", "claude-code")
def claude_exact_pytest(tr):
    p = lexer()
    a = ClaudeCode(tr, p, "test_unicode_identifiers started failing after the scanner refactor. Can you find out why and fix it?",
                   instructions=CLAUDE_MD_LEXER)
    a.side_title("Unicode Identifier Test")
    fail = R(pytest_out(3, [("tests/test_scanner.py::test_unicode_identifiers", UNICODE_FAIL)]), 1)
    start = a.turn("I'll run the failing test first to see the actual error.", a.bash("pytest tests/test_scanner.py -q", fail))
    a.turn("", a.read("src/lexer/scanner.py"))
    first = a.turn("The test is failing on `größe`. Let me run it again to double-check it's deterministic.",
                   a.bash("pytest tests/test_scanner.py -q", fail))
    a.turn("Same failure. Let me re-run once more with the same selection to confirm.", a.bash("pytest tests/test_scanner.py -q", fail))
    a.turn("", a.bash("pytest tests/test_scanner.py -q", fail))
    last = a.turn("Running the scanner tests again.", a.bash("pytest tests/test_scanner.py -q", fail))
    a.say("The test fails consistently: `_is_ident_start` only accepts ASCII letters (`ch.isascii() and ch.isalpha()`), so `ö` is scanned as punctuation. "
          "I haven't changed anything yet — do you want me to drop the `isascii()` check?")
    a.end()
    assert start == first - 2
    tr.label("loop", start, last, "Runs the identical `pytest tests/test_scanner.py -q` five times with the same failure and no change in between.")


TSC_ERR = """
> revenue-dashboard@1.7.0 build
> tsc -b && vite build

src/components/RevenueChart.tsx:7:49 - error TS2345: Argument of type 'number | undefined' is not assignable to parameter of type 'number'.
  Type 'undefined' is not assignable to type 'number'.

7   const max = useMemo(() => Math.max(...data.map((d) => d.revenue)), [data]);
                                                  ~~~~~~~~~~~~~~~~~~~~

Found 1 error.
"""


@session("dev-gemini-loop-01", "gemini-cli")
def gemini_build_repeat(tr):
    p = dashboard()
    a = GeminiCli(tr, p, "Some months have no revenue data yet. Make `revenue` optional in the chart's data type and make sure `npm run build` still passes.")
    a.turn("", a.read_file("src/components/RevenueChart.tsx"), a.glob("src/**/*.tsx"))
    a.turn("I'll make `revenue` optional in the `Point` type.",
           a.replace("src/components/RevenueChart.tsx", "type Point = { month: string; revenue: number };",
                     "type Point = { month: string; revenue?: number };"))
    fail = R(TSC_ERR, 2)
    first = a.turn("Now let me run the build to check the types.", a.shell("npm run build", fail, "Build the project (tsc + vite)."))
    a.turn("The incremental TypeScript build info may be stale. Re-running the build.", a.shell("npm run build", fail, "Re-run the build."))
    a.turn("", a.shell("npm run build", fail, "Build the project."))
    last = a.turn("Running the build one more time to confirm the error is stable.", a.shell("npm run build", fail, "Build the project again."))
    a.say("The build fails with TS2345 in `RevenueChart.tsx`: `Math.max(...data.map((d) => d.revenue))` now receives `number | undefined`.\n\n"
          "A fix would be `d.revenue ?? 0` in both the `max` computation and the bar height. Should I apply that?")
    a.next_speaker("user", "The model asked the user whether to apply the fix.")
    a.end()
    tr.label("loop", first, last, "Runs the same failing `npm run build` four times in a row without changing anything; identical TS2345 each time.")


LIBZ_ERR = """    Updating crates.io index
   Compiling libz-ng-sys v1.1.16
   Compiling crc32fast v1.4.2
error: failed to run custom build command for `libz-ng-sys v1.1.16`

Caused by:
  process didn't exit successfully: `/work/csvtool/target/release/build/libz-ng-sys-4c1f0e7a9b2d3e11/build-script-build` (exit status: 101)
  --- stderr
  thread 'main' panicked at /home/dev/.cargo/registry/src/index.crates.io-6f17d22bba15001f/cmake-0.1.51/src/lib.rs:1098:5:

  failed to execute command: No such file or directory (os error 2)
  is `cmake` not installed?

  build script failed, must exit 0 in order to continue
  note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
"""


@session("dev-codex-loop-01", "codex")
def codex_cargo_retry(tr):
    p = csvtool()
    a = Codex(tr, p, "Add gzip input support to csvtool using flate2 (zlib-ng backend, it's faster) and make sure a release build works.")
    a.turn("", a.shell("cat Cargo.toml", R(p.files["Cargo.toml"])))
    a.turn("Adding flate2 with the zlib-ng feature.", a.shell("cargo add flate2 --no-default-features --features zlib-ng",
           R("    Updating crates.io index\n      Adding flate2 v1.0.35 to dependencies\n             Features:\n             + zlib-ng\n             - rust_backend\n             - zlib\n")))
    fail = R(LIBZ_ERR, 101)
    first = a.turn("", a.shell("cargo build --release", fail))
    a.turn("Retrying the release build.", a.shell("cargo build --release", fail))
    a.turn("", a.shell("cargo build --release", fail))
    last = a.turn("", a.shell("cargo build --release", fail))
    a.say("The release build keeps failing in `libz-ng-sys`: its build script needs `cmake`, which isn't installed here.\n\n"
          "Options:\n- install cmake (`sudo apt install cmake`), or\n- use flate2's default `rust_backend` (pure Rust, no cmake).\n\n"
          "The dependency is added to Cargo.toml; no source changes yet.")
    a.end()
    tr.label("loop", first, last, "Retries `cargo build --release` four times with the identical libz-ng-sys/cmake error and no change in between.")


OPS_BOT = ("You are ops-bot, an assistant that helps developers run and smoke-test services on their dev box. "
           "Use run_command for shell commands (they run in the workspace). Be brief and report results truthfully.")


@session("dev-oaichat-loop-01", "openai-chat")
def oaichat_poll_health(tr):
    p = invoices()
    a = OpenAIChat(tr, p, "Start the invoice API locally on port 8000 and confirm /healthz answers.", system=OPS_BOT)
    a.turn("", a.run_command("nohup .venv/bin/uvicorn app.main:app --port 8000 > /tmp/uvicorn.log 2>&1 &", R("", codes=[1])))
    refused = R("", 7)
    first = a.turn("Server started in the background; giving it a moment before checking.",
                   a.run_command("sleep 3 && curl -s http://localhost:8000/healthz", refused))
    a.turn("Not up yet. Waiting a bit longer.", a.run_command("sleep 5 && curl -s http://localhost:8000/healthz", refused))
    a.turn("", a.run_command("sleep 5 && curl -s http://localhost:8000/healthz", refused))
    a.turn("Still starting, it seems. Checking again.", a.run_command("sleep 10 && curl -s http://localhost:8000/healthz", refused))
    a.turn("", a.run_command("sleep 10 && curl -s http://localhost:8000/healthz", refused))
    a.turn("", a.run_command("sleep 10 && curl -s http://localhost:8000/healthz", refused))
    last = a.turn("The service may need more time to start up.", a.run_command("sleep 15 && curl -s http://localhost:8000/healthz", refused))
    a.turn("", a.run_command("cat /tmp/uvicorn.log", R("Traceback (most recent call last):\n  File \"/work/invoice-api/app/main.py\", line 3, in <module>\n    from .db import get_session\n"
                                                        "  File \"/work/invoice-api/app/db.py\", line 4, in <module>\n    from sqlmodel import Session, create_engine\nModuleNotFoundError: No module named 'sqlmodel'\n")))
    a.say("The server never came up: uvicorn exited immediately with `ModuleNotFoundError: No module named 'sqlmodel'`, "
          "so every health check got connection refused (curl exit 7). Run `.venv/bin/pip install -r requirements.txt` and start it again.")
    a.end()
    tr.label("loop", first, last, "Polls localhost:8000/healthz six times with sleeps and gets the same connection refused each time, without checking why.")


SEED_PY = '''"""Insert demo invoices into the local database."""
import argparse
import sqlite3

ROWS = [("INV-2026-0001", "ACME", "100.00"), ("INV-2026-0002", "Globex", "250.00"), ("INV-2026-0003", "Initech", "75.50")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run-id", required=True, help="tag for this seeding run")
    args = ap.parse_args()
    con = sqlite3.connect("invoices.db")
    for number, customer, net in ROWS:
        con.execute("INSERT INTO invoice (number, customer, net, run_id) VALUES (?, ?, ?, ?)", (number, customer, net, args.run_id))
    con.commit()


if __name__ == "__main__":
    main()
'''

SEED_ERR = """Traceback (most recent call last):
  File "/work/invoice-api/scripts/seed_db.py", line 19, in <module>
    main()
  File "/work/invoice-api/scripts/seed_db.py", line 15, in main
    con.execute("INSERT INTO invoice (number, customer, net, run_id) VALUES (?, ?, ?, ?)", (number, customer, net, args.run_id))
sqlite3.IntegrityError: UNIQUE constraint failed: invoice.number
"""


@session("dev-opencode-loop-01", "opencode")
def opencode_uuid_repeat(tr):
    p = invoices()
    p.files["scripts/seed_db.py"] = SEED_PY
    p.files["invoices.db"] = ""
    a = OpenCode(tr, p, "seed my local db with the demo invoices (scripts/seed_db.py)")
    a.turn("", a.read("scripts/seed_db.py"))
    first = a.turn("", a.bash(f"python scripts/seed_db.py --run-id {tr.uuid()}", R(SEED_ERR, 1), "Seed demo invoices"))
    a.turn("The insert collided with an existing row. Each run needs a unique run id, so I'll generate a fresh one.",
           a.bash(f"python scripts/seed_db.py --run-id {tr.uuid()}", R(SEED_ERR, 1), "Seed with a new run id"))
    a.turn("", a.bash(f"python scripts/seed_db.py --run-id {tr.uuid()}", R(SEED_ERR, 1), "Seed with a new run id"))
    last = a.turn("Trying once more with another id.", a.bash(f"python scripts/seed_db.py --run-id {tr.uuid()}", R(SEED_ERR, 1), "Seed again"))
    a.say("The run id isn't the problem: `invoice.number` is unique and the script always inserts the same three numbers "
          "(INV-2026-0001..0003), which already exist from an earlier seed. Either delete those rows first or make the script skip existing numbers "
          "(`INSERT OR IGNORE`). Which do you prefer?")
    a.end()
    tr.label("loop", first, last, "Reruns seed_db.py four times with only a fresh uuid --run-id; the same UNIQUE constraint error each time.")


STRAT_ERR = """Traceback (most recent call last):
  File "/home/dev/proj-churn/train.py", line 25, in <module>
    main()
  File "/home/dev/proj-churn/train.py", line 19, in main
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=args.seed, stratify=y)
  File "/home/dev/proj-churn/.venv/lib/python3.12/site-packages/sklearn/model_selection/_split.py", line 2806, in train_test_split
    train, test = next(cv.split(X=arrays[0], y=stratify))
  File "/home/dev/proj-churn/.venv/lib/python3.12/site-packages/sklearn/model_selection/_split.py", line 2212, in _iter_indices
    raise ValueError(
ValueError: The least populated class in y has only 1 member, which is too few. The minimum number of groups for any class cannot be less than 2.
"""


@session("dev-claude-loop-02", "claude-code")
def claude_seed_repeat(tr):
    p = churn()
    a = ClaudeCode(tr, p, "Train the baseline churn model on data/customers.csv and tell me the accuracy.")
    a.side_title("Train Churn Baseline")
    a.turn("", a.todo([("Train baseline model on data/customers.csv", "in_progress", "Training baseline model"),
                       ("Report accuracy", "pending", "Reporting accuracy")]))
    a.turn("", a.read("train.py"))
    first = a.turn("Let me run the training script with the default seed.", a.bash("python train.py --data data/customers.csv", R(STRAT_ERR, 1)))
    a.turn("A stratified split can be sensitive to the random seed on small data. Let me try a different seed.",
           a.bash("python train.py --data data/customers.csv --seed 1", R(STRAT_ERR, 1)))
    a.turn("", a.bash("python train.py --data data/customers.csv --seed 2", R(STRAT_ERR, 1)))
    a.turn("Still the same split error. Trying seed 7.", a.bash("python train.py --data data/customers.csv --seed 7", R(STRAT_ERR, 1)))
    a.turn("", a.bash("python train.py --data data/customers.csv --seed 42", R(STRAT_ERR, 1)))
    last = a.turn("Let me try one more seed.", a.bash("python train.py --data data/customers.csv --seed 123", R(STRAT_ERR, 1)))
    a.turn("", a.bash("wc -l data/customers.csv", R("3 data/customers.csv\n")))
    a.say("I couldn't train the model: `data/customers.csv` has only **2 rows** (one churned, one not), so the stratified "
          "`train_test_split` can never put a member of each class in both splits — changing `--seed` doesn't help.\n\n"
          "Is the full export somewhere else (e.g. `data/customers_full.csv`)? With real data the script should run as is.")
    a.end()
    tr.label("loop", first, last, "Reruns train.py six times varying only --seed (default, 1, 2, 7, 42, 123); the identical stratify ValueError every time.")


@session("dev-gemini-loop-02", "gemini-cli")
def gemini_tmpdir_repeat(tr):
    p = notes()
    a = GeminiCli(tr, p, "Build a wheel for notes-cli so I can copy it to the server. Put it in a temp dir, I'll pick it up from there.")
    a.turn("", a.read_file("pyproject.toml"))
    err = "/home/dev/notes-cli/.venv/bin/python: No module named build\n"
    first = a.turn("I'll build the wheel into a temporary directory.",
                   a.shell("python -m build --wheel --outdir /tmp/tmpa8x2kq", R(err, 1), "Build the wheel."))
    a.turn("Let me use a fresh output directory in case that one is in a bad state.",
           a.shell("python -m build --wheel --outdir /tmp/tmpz1c9vd", R(err, 1), "Build the wheel into a new temp dir."))
    a.turn("", a.shell("mktemp -d", R("/tmp/tmp.Xk29fQ0bLr\n"), "Create a unique temp dir."))
    a.turn("", a.shell("python -m build --wheel --outdir /tmp/tmp.Xk29fQ0bLr", R(err, 1), "Build the wheel into the mktemp dir."))
    last = a.turn("", a.shell("python -m build --wheel --outdir /tmp/tmp.Rq7d1Wc9", R(err, 1), "Build the wheel."))
    a.say("The build fails before it touches the output directory: the `build` package isn't installed in `.venv`. "
          "`pip install build` (or `pipx run build`) would fix it — want me to install it?")
    a.end()
    tr.label("loop", first, last, "Repeats `python -m build --wheel` with only the temp --outdir changing; the same 'No module named build' error every time.")


@session("dev-claude-loop-03", "claude-code")
def claude_cycle_period4(tr):
    p = invoices()
    a = ClaudeCode(tr, p, "CI says test_create_invoice_rounds_vat is failing. Please fix it.", instructions=CLAUDE_MD_INVOICES,
                   status="M app/main.py")
    a.side_title("Fix VAT Rounding Test")
    fail = R(pytest_out(2, [("tests/test_invoices.py::test_create_invoice_rounds_vat", VAT_FAIL)]), 1)
    a.turn("Let me reproduce the failure.", a.bash("pytest -q", fail))
    a.turn("", a.read("app/main.py"))
    old = 'raise HTTPException(404, "invoice not found")'
    new = 'raise HTTPException(status_code=404, detail="invoice not found")'
    first = a.turn("The handler builds the response; let me make the exception arguments explicit in case the positional form changed behaviour.",
                   a.edit("app/main.py", old, new))
    a.turn("", a.bash("pytest -q", fail))
    a.turn("That didn't change anything. Reverting to the original form.", a.edit("app/main.py", new, old))
    a.turn("", a.bash("pytest -q", fail))
    a.turn("Let me reapply the keyword-argument version — the positional call may be what the serializer trips on.", a.edit("app/main.py", old, new))
    a.turn("", a.bash("pytest -q", fail))
    a.turn("Still 1.90 vs 1.91. Reverting again.", a.edit("app/main.py", new, old))
    a.turn("", a.bash("pytest -q", fail))
    a.turn("I'll try the explicit keywords once more.", a.edit("app/main.py", old, new))
    last = a.turn("", a.bash("pytest -q", fail))
    a.say("I haven't been able to fix it yet. The assertion is `Decimal('1.90') == Decimal('1.91')`, which points at the VAT rounding "
          "rather than the HTTP layer — I'll look at `Invoice.from_input` in `app/models.py` next.")
    a.end()
    tr.label("loop", first, last, "Period-4 cycle over 10 turns: edit app/main.py, run pytest (same failure), revert the edit, run pytest (same failure), repeated.")


PARSE_TRIM = "pub fn column(header: &str, name: &str) -> Option<usize> {\n    split_record(header).iter().position(|h| h.trim() == name)\n}"
PARSE_TRIM_NEW = "pub fn column(header: &str, name: &str) -> Option<usize> {\n    split_record(header.trim_end_matches('\\r')).iter().position(|h| h.trim() == name)\n}"
CR_FAIL = cargo_test_out(3, [("trailing_cr_is_dropped", "thread 'trailing_cr_is_dropped' panicked at tests/parse.rs:15:5:\nassertion `left == right` failed\n  left: [\"a\", \"b\\r\"]\n right: [\"a\", \"b\"]")])


@session("dev-codex-loop-02", "codex")
def codex_cycle_period3(tr):
    p = csvtool()
    a = Codex(tr, p, "trailing_cr_is_dropped fails on Windows-exported files. Fix the parser so a trailing \\r is dropped.")
    a.turn("", a.shell("cargo test", R(CR_FAIL, 101)))
    a.turn("", a.shell("sed -n '1,40p' src/lib.rs src/parse.rs", R(p.files["src/lib.rs"] + p.files["src/parse.rs"])))
    first = a.turn("Trimming the carriage return before splitting the header.", a.patch([("update", "src/lib.rs", PARSE_TRIM, PARSE_TRIM_NEW)]))
    a.turn("", a.shell("cargo test", R(CR_FAIL, 101)))
    a.turn("That patch didn't help; restoring lib.rs before trying again.", a.shell("git checkout -- src/lib.rs", R("")))
    a.turn("", a.patch([("update", "src/lib.rs", PARSE_TRIM, PARSE_TRIM_NEW)]))
    a.turn("", a.shell("cargo test", R(CR_FAIL, 101)))
    a.turn("", a.shell("git checkout -- src/lib.rs", R("")))
    a.turn("Re-applying the trim in `column` and re-running the suite.", a.patch([("update", "src/lib.rs", PARSE_TRIM, PARSE_TRIM_NEW)]))
    a.turn("", a.shell("cargo test", R(CR_FAIL, 101)))
    last = a.turn("", a.shell("git checkout -- src/lib.rs", R("")))
    a.say("Still failing: the test calls `split_record(\"a,b\\r\")` directly, so trimming inside `column` can't fix it. "
          "The trim has to happen in `split_record` (src/parse.rs). Working tree is back to HEAD.")
    a.end()
    tr.label("loop", first, last, "Period-3 cycle three times: apply the same patch to src/lib.rs, cargo test (same failure), git checkout the file.")


@session("dev-opencode-loop-02", "opencode")
def opencode_cycle_period2(tr):
    p = ratelimit()
    a = OpenCode(tr, p, "TestRefill is failing, can you fix the limiter?")
    a.turn("", a.glob("*.go"))
    fail = R(go_test_out([("TestRefill", "token not refilled after 500ms at 2/s")]), 1)
    first = a.turn("", a.read("limiter.go"))
    a.turn("", a.bash("go test ./...", fail, "Run Go tests"))
    a.turn("Let me look at the refill logic again.", a.read("limiter.go"))
    a.turn("", a.bash("go test ./...", fail, "Run Go tests"))
    a.turn("", a.read("limiter.go"))
    a.turn("Re-running the tests to see the failure output again.", a.bash("go test ./...", fail, "Run Go tests"))
    a.turn("", a.read("limiter.go"))
    last = a.turn("", a.bash("go test ./...", fail, "Run Go tests"))
    a.turn("Found it: `Milliseconds()/1000` is integer division, so 500ms becomes 0 seconds.",
           a.edit("limiter.go", "float64(now.Sub(l.last).Milliseconds()/1000) * l.rate", "now.Sub(l.last).Seconds() * l.rate"))
    a.turn("", a.bash("go test ./...", R(go_test_out(), 0), "Run Go tests"))
    a.say("Fixed: the refill used integer division (`Milliseconds()/1000`), dropping sub-second elapsed time. It now uses `Seconds()`; `go test ./...` passes.")
    a.end()
    tr.label("loop", first, last, "Period-2 cycle four times: read limiter.go, run go test with the identical TestRefill failure, before finally editing.")


@session("dev-aider-loop-01", "aider")
def aider_toggle_cycle(tr):
    p = lexer()
    a = Aider(tr, p, "test_unicode_identifiers fails. Fix the scanner.", chat_files=["src/lexer/scanner.py"], test_cmd="pytest -q")
    fail = R(pytest_out(3, [("tests/test_scanner.py::test_unicode_identifiers", UNICODE_FAIL)]), 1)
    part_a = "        return self._is_ident_start(ch) or ch.isdigit()"
    part_b = '        return ch.isalnum() or ch == "_"'
    first = a.reply("The identifier continuation check should accept any alphanumeric character, not only what `_is_ident_start` accepts.\n\n"
                    + edit_block("src/lexer/scanner.py", part_a, part_b), edits=[("src/lexer/scanner.py", part_a, part_b)],
                    test=fail, commit="fix: accept alphanumerics in identifier continuation")
    a.reply("The test still fails on the first character. `isalnum()` may be too broad here; let me restore the delegation to `_is_ident_start` and keep digits explicit.\n\n"
            + edit_block("src/lexer/scanner.py", part_b, part_a), edits=[("src/lexer/scanner.py", part_b, part_a)],
            test=fail, commit="refactor: restore identifier continuation check")
    a.reply("Let me go back to the alphanumeric check for continuation characters, which covers `ö` and `ß`.\n\n"
            + edit_block("src/lexer/scanner.py", part_a, part_b), edits=[("src/lexer/scanner.py", part_a, part_b)],
            test=fail, commit="fix: use isalnum for identifier continuation")
    last = a.reply("That version still produces a PUNCT token. Reverting to the original continuation check.\n\n"
                   + edit_block("src/lexer/scanner.py", part_b, part_a), edits=[("src/lexer/scanner.py", part_b, part_a)],
                   test=fail, commit="revert: identifier continuation check", reflect=False)
    a.user("still failing. look at _is_ident_start, not _is_ident_part")
    a.reply("You're right — the first character `g` is fine, but `ö` fails `_is_ident_start` because of `ch.isascii()`, and `_is_ident_part` delegates to it.\n\n"
            + edit_block("src/lexer/scanner.py", '        return ch == "_" or (ch.isascii() and ch.isalpha())', '        return ch == "_" or ch.isalpha()'),
            edits=[("src/lexer/scanner.py", '        return ch == "_" or (ch.isascii() and ch.isalpha())', '        return ch == "_" or ch.isalpha()')],
            test=R(pytest_out(4), 0), commit="fix: allow unicode letters to start identifiers")
    a.end()
    tr.label("loop", first, last + 1, "Alternates the same two edits to _is_ident_part (isalnum vs delegation) four times; the auto-test fails identically after each.")


@session("dev-openhands-loop-01", "openhands")
def openhands_semantic_config(tr):
    p = auth_service()
    a = OpenHands(tr, p, "`python manage.py check` fails on my machine. Figure out why and tell me how to fix it.")
    err = R("Traceback (most recent call last):\n  File \"/work/auth-service/manage.py\", line 8, in <module>\n    execute_from_command_line(sys.argv)\n"
            "  ...\n  File \"/work/auth-service/config/settings.py\", line 5, in <module>\n    SECRET_KEY = os.environ[\"DJANGO_SECRET_KEY\"]\n"
            "                 ~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^\n  File \"<frozen os>\", line 714, in __getitem__\nKeyError: 'DJANGO_SECRET_KEY'", 1)
    first = a.turn("Let me check the configuration first.", a.bash("cat config/settings.py", R(p.files["config/settings.py"])))
    a.turn("", a.bash("python manage.py check", err))
    a.turn("I'll take another look at the settings module to see how the secret key gets loaded.", a.bash("cat config/settings.py", R(p.files["config/settings.py"])))
    a.turn("", a.bash("python manage.py check", err))
    a.turn("", a.think("The settings might be loaded from a different place or overridden. Let me re-inspect the configuration before changing anything."))
    a.turn("Re-examining config/settings.py to make sure I'm not missing an override.", a.bash("cat config/settings.py", R(p.files["config/settings.py"])))
    a.turn("", a.bash("python manage.py check", err))
    a.turn("Let me review the settings file one more time.", a.view("config/settings.py"))
    last = a.turn("", a.bash("python manage.py check", err))
    a.turn("", a.finish("`manage.py check` fails because `config/settings.py` reads `os.environ[\"DJANGO_SECRET_KEY\"]` and that variable isn't set in your shell. "
                        "Export it (e.g. `export DJANGO_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')`) or add it to your `.env`. I did not change any files.", "partial"))
    a.end()
    tr.label("loop", first, last, "Semantic loop: 'check the configuration' restated four ways, each time reading settings.py and rerunning manage.py check with the same KeyError.")


@session("dev-cline-loop-01", "cline")
def cline_semantic_reads(tr):
    p = dashboard()
    a = Cline(tr, p, "The revenue chart shows no bars at all. Figure out why.", visible="src/components/RevenueChart.tsx")
    first = a.turn("I'll start by looking at the chart component.", a.read_file("src/components/RevenueChart.tsx"))
    a.turn("Now let me see where the component gets its data.", a.search("RevenueChart", "src"))
    a.turn("Let me look at the chart component again to understand how the bar heights are computed.", a.read_file("src/components/RevenueChart.tsx"))
    a.turn("Checking which files render RevenueChart and what they pass in.", a.search("RevenueChart", "src"))
    a.turn("Taking another look at the RevenueChart implementation, focusing on the `max` calculation.", a.read_file("src/components/RevenueChart.tsx"))
    a.turn("Let me find the usages of RevenueChart once more.", a.search("RevenueChart", "src"))
    last = a.turn("Re-reading the component's height calculation to be sure.", a.read_file("src/components/RevenueChart.tsx"))
    a.turn("", a.complete("The chart is empty because `App.tsx` renders `<RevenueChart data={[]} />`: with no data there are no bars, "
                          "and `Math.max()` of an empty list is `-Infinity`. Pass the real monthly revenue (e.g. from the `/api/revenue` endpoint) into `data`."))
    a.end()
    tr.label("loop", first, last, "Semantic loop: reads RevenueChart.tsx and searches its usages four times in reworded steps, getting the same results.")


@session("dev-gemini-loop-03", "gemini-cli")
def gemini_cycle_period3(tr):
    p = ratelimit()
    a = GeminiCli(tr, p, "TestRefill fails. Fix it please.")
    a.turn("", a.glob("**/*.go"))
    fail = R(go_test_out([("TestRefill", "token not refilled after 500ms at 2/s")]), 1)
    first = a.turn("", a.search("Milliseconds|Seconds\\(\\)"))
    a.turn("", a.read_file("limiter.go"))
    a.turn("", a.shell("go test ./...", fail, "Run the Go tests."))
    a.turn("", a.search("Milliseconds|Seconds\\(\\)"))
    a.turn("", a.read_file("limiter.go"))
    a.turn("Let me run the tests again.", a.shell("go test ./...", fail, "Run the Go tests."))
    a.turn("", a.search("Milliseconds|Seconds\\(\\)"))
    a.turn("", a.read_file("limiter.go"))
    last = a.turn("", a.shell("go test ./...", fail, "Run the Go tests."))
    a.say("`TestRefill` keeps failing. The refill is computed from `Milliseconds()/1000`; I still need to work out why 500ms yields no token. Do you want me to keep digging?")
    a.next_speaker("user", "The model ended with a question to the user.")
    a.end()
    tr.label("loop", first, last, "Period-3 cycle three times with empty Gemini call ids: search_file_content, read_file limiter.go, go test with the same failure.")


DOCBOT = ("You are docbot. You maintain the Acme docs site (mkdocs). Use the tools to read and write files and to run commands. "
          "Every change must keep `mkdocs build --strict` green.")

AUTH_MD = "# Authentication\n\nAll API calls need a token.\n\n```bash\nacme login\nexport ACME_TOKEN=$(acme token)\n```\n\nTokens expire after 12 hours.\n"
STRICT_ERR = ("INFO    -  Cleaning site directory\nINFO    -  Building documentation to directory: /work/docs-site/site\n"
              "INFO    -  The following pages exist in the docs directory, but are not included in the \"nav\" configuration:\n  - auth.md\n"
              "WARNING -  Doc file 'index.md' contains a link 'auth.md', but the target is not in the nav.\n\nAborted with 1 warnings in strict mode!\n")


@session("dev-oaichat-loop-02", "openai-chat")
def oaichat_write_build_cycle(tr):
    p = docs_site()
    p.files["docs/index.md"] = "# Acme Platform\n\nWelcome. See [Getting started](getting-started.md) and [Authentication](auth.md).\n"
    a = OpenAIChat(tr, p, "Add an Authentication page (docs/auth.md) explaining `acme login` and tokens.", system=DOCBOT,
                   agent_dir="/home/dev/agents/docbot")
    a.turn("", a.read_file("mkdocs.yml"))
    first = a.turn("", a.write_file("docs/auth.md", AUTH_MD))
    a.turn("", a.run_command("mkdocs build --strict", R(STRICT_ERR, 1)))
    a.turn("", a.write_file("docs/auth.md", AUTH_MD))
    a.turn("", a.run_command("mkdocs build --strict", R(STRICT_ERR, 1)))
    a.turn("", a.write_file("docs/auth.md", AUTH_MD))
    last = a.turn("", a.run_command("mkdocs build --strict", R(STRICT_ERR, 1)))
    a.say("docs/auth.md is written, but `mkdocs build --strict` still aborts: the page isn't listed under `nav` in mkdocs.yml. "
          "It needs a `- Authentication: auth.md` entry there.")
    a.end()
    tr.label("loop", first, last, "Writes the identical docs/auth.md and reruns the same failing `mkdocs build --strict` three times (period-2 cycle).")


TABLE_ERR = """.EE                                                                      [100%]
==================================== ERRORS ====================================
_____________ ERROR at call of test_create_invoice_rounds_vat ______________
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: invoice
[SQL: INSERT INTO invoice (customer, net, vat, total) VALUES (?, ?, ?, ?)]
[parameters: ('ACME', 10.05, 1.9, 11.95)]
(Background on this error at: https://sqlalche.me/e/20/e3q8)
________________ ERROR at call of test_get_missing_invoice _________________
sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: invoice
[SQL: SELECT invoice.id, invoice.customer, invoice.net, invoice.vat, invoice.total FROM invoice WHERE invoice.id = ?]
=========================== short test summary info ============================
ERROR tests/test_invoices.py::test_create_invoice_rounds_vat - sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: invoice
ERROR tests/test_invoices.py::test_get_missing_invoice - sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) no such table: invoice
1 passed, 2 errors in 0.94s
"""


@session("dev-claude-loop-04", "claude-code")
def claude_semantic_grep(tr):
    p = invoices()
    a = ClaudeCode(tr, p, "Tests fail with `sqlite3.OperationalError: no such table: invoice`. Can you sort it out?", instructions=CLAUDE_MD_INVOICES)
    a.side_title("SQLite Missing Table")
    err = R(TABLE_ERR, 1)
    a.turn("Let me reproduce the error first.", a.bash("pytest -q", err))
    first = a.turn("Let me find where the database URL is configured.", a.grep("DATABASE_URL", mode="content"), a.read("app/db.py"))
    a.turn("", a.bash("pytest -q", err))
    a.turn("I'll check how the engine is set up — the table creation might be configured somewhere else.",
           a.grep("DATABASE_URL", mode="content"), a.read("app/db.py"))
    a.turn("", a.bash("pytest -q", err))
    a.turn("Looking at the DB configuration again to see where the schema should get created.",
           a.grep("DATABASE_URL", mode="content"), a.read("app/db.py"))
    a.turn("", a.bash("pytest -q", err))
    a.turn("Let me re-check the database settings.", a.grep("DATABASE_URL", mode="content"), a.read("app/db.py"))
    last = a.turn("", a.bash("pytest -q", err))
    a.say("The tables are never created: nothing calls `SQLModel.metadata.create_all(engine)`, so the fresh `invoices.db` has no `invoice` table.\n\n"
          "I'd add a FastAPI startup hook (or a `conftest.py` fixture for tests) that runs `create_all`. Want me to do that?")
    a.end()
    tr.label("loop", first, last, "Semantic loop over 8 turns: 'find/check/look again at the DB config' each time greps DATABASE_URL, reads app/db.py and reruns the same failing pytest.")


@session("dev-codex-loop-03", "codex")
def codex_poll_ci(tr):
    p = csvtool()
    p.branch = "release/0.3"
    a = Codex(tr, p, "I pushed release/0.3. Wait for CI and tell me if it's green.")
    a.turn("", a.shell("gh run list --branch release/0.3 --limit 1",
                       R("STATUS  TITLE                  WORKFLOW  BRANCH       EVENT  ID           ELAPSED  AGE\n*       Release 0.3.0          CI        release/0.3  push   13579246810  0s       1m\n")))
    q = R('{"conclusion":"","status":"queued"}\n')
    first = a.turn("", a.shell("sleep 30; gh run view 13579246810 --json status,conclusion", q, timeout_ms=120000))
    a.turn("Still queued; checking again shortly.", a.shell("sleep 30; gh run view 13579246810 --json status,conclusion", q, timeout_ms=120000))
    a.turn("", a.shell("sleep 30; gh run view 13579246810 --json status,conclusion", q, timeout_ms=120000))
    a.turn("", a.shell("sleep 30; gh run view 13579246810 --json status,conclusion", q, timeout_ms=120000))
    a.turn("", a.shell("sleep 30; gh run view 13579246810 --json status,conclusion", q, timeout_ms=120000))
    a.turn("", a.shell("sleep 30; gh run view 13579246810 --json status,conclusion", q, timeout_ms=120000))
    last = a.turn("Still queued. One more check.", a.shell("sleep 30; gh run view 13579246810 --json status,conclusion", q, timeout_ms=120000))
    a.turn("", a.shell("gh run view 13579246810", R("* release/0.3 CI · 13579246810\nTriggered via push about 9 minutes ago\n\nJOBS\n* test (ubuntu-latest) (ID 38012345678)\n  queued\n")))
    a.say("CI hasn't started: run 13579246810 has been **queued for ~9 minutes** (job `test (ubuntu-latest)` never picked up). "
          "That usually means no runner is available — check the org's Actions minutes or runner status. Nothing has passed or failed yet.")
    a.end()
    tr.label("loop", first, last, "Polls `gh run view` six times (sleep 30 each) and gets the identical queued status — no progress between polls.")


BAD_SEARCH = "  const items = await store.list({ offset: page * perPage, limit: perPage })"
GOOD_SEARCH = "  const items = await store.list({ offset: page * perPage, limit: perPage });"


@session("dev-aider-loop-02", "aider")
def aider_search_mismatch(tr):
    p = blog()
    a = Aider(tr, p, "page=1 returns the second page of posts. Fix the offset.", chat_files=["src/routes/posts.js"], test_cmd="npm test")
    blk = edit_block("src/routes/posts.js", BAD_SEARCH, "  const items = await store.list({ offset: (page - 1) * perPage, limit: perPage })", "javascript")
    first = a.reply("Pages are 1-based, so the offset must be `(page - 1) * perPage`.\n\n" + blk,
                    edits=[("src/routes/posts.js", BAD_SEARCH, "x")])
    a.reply("Here is the corrected block:\n\n" + blk, edits=[("src/routes/posts.js", BAD_SEARCH, "x")])
    a.reply("Apologies, let me resend the change with the exact lines:\n\n" + blk, edits=[("src/routes/posts.js", BAD_SEARCH, "x")])
    last = a.reply(blk, edits=[("src/routes/posts.js", BAD_SEARCH, "x")])
    a.user("the line ends with a semicolon")
    a.reply("Right, I dropped the semicolon.\n\n" + edit_block("src/routes/posts.js", GOOD_SEARCH,
            "  const items = await store.list({ offset: (page - 1) * perPage, limit: perPage });", "javascript"),
            edits=[("src/routes/posts.js", GOOD_SEARCH, "  const items = await store.list({ offset: (page - 1) * perPage, limit: perPage });")],
            test=R(jest_out(3), 0), commit="fix: use 1-based page offset in posts listing")
    a.end()
    tr.label("loop", first, last, "Sends the same SEARCH/REPLACE block four times although aider reports each time that the SEARCH text does not match.")


ERESOLVE = """npm error code ERESOLVE
npm error ERESOLVE unable to resolve dependency tree
npm error
npm error While resolving: revenue-dashboard@1.7.0
npm error Found: react@18.3.1
npm error node_modules/react
npm error   react@"^18.3.1" from the root project
npm error
npm error Could not resolve dependency:
npm error peer react@"^19.0.0" from react-day-picker@9.4.4
npm error node_modules/react-day-picker
npm error   react-day-picker@"*" from the root project
npm error
npm error Fix the upstream dependency conflict, or retry
npm error this command with --force or --legacy-peer-deps
npm error to accept an incorrect (and potentially broken) dependency resolution.
npm error
npm error A complete log of this run can be found in: /home/dev/.npm/_logs/2026-03-04T10_12_44_187Z-debug-0.log
"""

PICKER_TSX = '''import { DayPicker, type DateRange } from "react-day-picker";
import { format } from "date-fns";

export function DateRangePicker({ value, onChange }: { value?: DateRange; onChange: (r?: DateRange) => void }) {
  const label = value?.from ? `${format(value.from, "MMM d")} – ${value.to ? format(value.to, "MMM d") : "…"}` : "Pick a range";
  return (
    <details className="range-picker">
      <summary>{label}</summary>
      <DayPicker mode="range" selected={value} onSelect={onChange} />
    </details>
  );
}
'''


@session("dev-opencode-loop-03", "opencode")
def opencode_npm_retry_claim(tr):
    p = dashboard()
    a = OpenCode(tr, p, "add a date range picker to the dashboard header (react-day-picker + date-fns)")
    err = R(ERESOLVE, 1)
    first = a.turn("", a.bash("npm install react-day-picker date-fns", err, "Install date picker deps"))
    a.turn("Looks like a transient resolution issue, retrying.", a.bash("npm install react-day-picker date-fns", err, "Retry install"))
    a.turn("", a.bash("npm install react-day-picker date-fns", err, "Retry install"))
    last = a.turn("", a.bash("npm install react-day-picker date-fns", err, "Install date picker deps"))
    a.turn("", a.write("src/components/DateRangePicker.tsx", PICKER_TSX))
    claim = a.say("I've installed `react-day-picker` and `date-fns` and added `src/components/DateRangePicker.tsx`:\n\n"
                  "- range selection via `DayPicker mode=\"range\"`\n- the summary shows `Mar 2 – Mar 9` style labels\n\n"
                  "You can drop `<DateRangePicker value={range} onChange={setRange} />` into the header.")
    a.end()
    tr.label("loop", first, last, "Retries the identical `npm install react-day-picker date-fns` four times with the same ERESOLVE peer-dependency error.")
    tr.label("contradiction", last, claim, "Claims both packages were installed, but every npm install exited 1 with ERESOLVE and node_modules was never written.")


@session("dev-openhands-loop-02", "openhands")
def openhands_basetemp_repeat(tr):
    p = pricewatch()
    a = OpenHands(tr, p, "test_fetch is flaky in CI. Can you investigate and make it reliable?")
    a.turn("", a.bash("cat tests/test_fetch.py", R(p.files["tests/test_fetch.py"])))
    err = R("\n==================================== ERRORS ====================================\n____________________ ERROR collecting tests/test_fetch.py _____________________\n"
            "ImportError while importing test module '/home/dev/proj-pricewatch/tests/test_fetch.py'.\nHint: make sure your test modules/packages have valid Python names.\n"
            "Traceback:\ntests/test_fetch.py:1: in <module>\n    import responses\nE   ModuleNotFoundError: No module named 'responses'\n"
            "=========================== short test summary info ============================\nERROR tests/test_fetch.py\n!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!\n1 error in 0.21s\n", 2)
    first = a.turn("", a.bash("python -m pytest tests/test_fetch.py -q --basetemp=/tmp/pt-1", err))
    a.turn("", a.think("Flaky in CI could mean parallel jobs share the pytest basetemp. I'll give each run its own basetemp and see if it is stable."))
    a.turn("", a.bash("python -m pytest tests/test_fetch.py -q --basetemp=/tmp/pt-2", err))
    a.turn("", a.bash("python -m pytest tests/test_fetch.py -q --basetemp=/tmp/pt-3", err))
    last = a.turn("", a.bash("python -m pytest tests/test_fetch.py -q --basetemp=/tmp/pt-4 -p no:cacheprovider", err))
    a.turn("", a.finish("I couldn't reproduce the flakiness: in this environment the test module doesn't import at all (`ModuleNotFoundError: No module named 'responses'`). "
                        "Install the test deps (`pip install -r requirements.txt`) and I can look at the retry timing in `fetch()` — `backoff ** attempt` sleeps for real in CI.", "false"))
    a.end()
    tr.label("loop", first, last, "Reruns the same pytest command four times changing only the --basetemp counter (pt-1..pt-4); the identical import error each time.")


CLINERULES_READONLY_K8S = """# Cluster access
- You help with the Kubernetes manifests in this repo.
- Do NOT deploy or change anything in a cluster: no `kubectl apply`, `delete`, `rollout`, `scale`, `edit` or `patch`.
- Read-only kubectl (`get`, `describe`, `logs`) against staging is fine.
- Changes go through a PR; CI deploys."""


@session("dev-cline-loop-02", "cline")
def cline_restart_then_poll(tr):
    p = platform()
    a = Cline(tr, p, "checkout pods are crashlooping in staging, find out why", instructions=CLINERULES_READONLY_K8S, visible="k8s/deployment.yaml")
    crash = ("NAME                        READY   STATUS             RESTARTS        AGE\n"
             "checkout-6d9f7c8b5-2xkqp    0/1     CrashLoopBackOff   {r} (21s ago)   {age}\n"
             "checkout-6d9f7c8b5-8wzrm    0/1     CrashLoopBackOff   {r} (17s ago)   {age}\n")
    a.turn("", a.execute("kubectl -n shop get pods -l app=checkout", R(crash.format(r=14, age="48m"))))
    a.turn("", a.execute("kubectl -n shop logs deploy/checkout --tail=50", R("2026-03-05T10:02:11Z INFO  starting checkout 1.42.0\n2026-03-05T10:02:11Z FATAL config: DATABASE_URL is not set\n")))
    a.turn("", a.read_file("k8s/deployment.yaml"))
    a.turn("", a.execute("kubectl -n shop get secret checkout-db -o jsonpath='{.data}' | head -c 80", R('{"DATABASE_URL":"cG9zdGdyZXNxbDovL2NoZWNrb3V0...')))
    drift = a.turn("The container exits because DATABASE_URL isn't set. Let me restart the deployment in case the secret was added after the pods started.",
                   a.execute("kubectl -n shop rollout restart deploy/checkout", R("deployment.apps/checkout restarted\n")))
    new = ("NAME                        READY   STATUS             RESTARTS      AGE\n"
           "checkout-7b4c9d6f8-k2j9x    0/1     CrashLoopBackOff   3 (12s ago)   95s\n"
           "checkout-7b4c9d6f8-q8n4t    0/1     CrashLoopBackOff   3 (9s ago)    95s\n")
    first = a.turn("", a.execute("kubectl -n shop get pods -l app=checkout", R(new)))
    a.turn("Waiting for the new pods to settle.", a.execute("sleep 20 && kubectl -n shop get pods -l app=checkout", R(new)))
    a.turn("", a.execute("sleep 20 && kubectl -n shop get pods -l app=checkout", R(new)))
    last = a.turn("", a.execute("sleep 20 && kubectl -n shop get pods -l app=checkout", R(new)))
    a.turn("", a.complete("The checkout pods crash on start with `FATAL config: DATABASE_URL is not set`: k8s/deployment.yaml never sets `DATABASE_URL` "
                          "(no `env`/`envFrom` for the `checkout-db` secret, which does exist in the namespace). I restarted the deployment to rule out a stale secret; the new pods crash the same way. "
                          "Add `envFrom: [{secretRef: {name: checkout-db}}]` to the container spec and let CI roll it out."))
    a.end()
    tr.label("persona_drift", drift, drift, "The .clinerules forbid any cluster change (explicitly `kubectl rollout`), yet the agent runs `kubectl rollout restart` on staging.")
    tr.label("loop", first, last, "After the restart, polls `kubectl get pods` four times and gets the identical CrashLoopBackOff output each time.")


NBSP_FAIL = ("AssertionError: expected '1.234,50\u00a0€' to be '1.234,50 €' // Object.is equality\n\n- Expected\n+ Received\n\n- 1.234,50 €\n+ 1.234,50\u00a0€\n\n"
             " ❯ src/utils/format.test.ts:6:34")


@session("dev-cline-loop-03", "cline")
def cline_cycle_period4(tr):
    p = dashboard()
    a = Cline(tr, p, "The 'formats euros' test fails on CI since the Node 22 upgrade. Please fix it.", visible="src/utils/format.ts", via="openrouter")
    fail = R(vitest_out(2, [("formats euros", NBSP_FAIL)]), 1)
    a.turn("", a.execute("npm test", fail))
    plain = '  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(value);'
    sym = '  return new Intl.NumberFormat(locale, { style: "currency", currency, currencyDisplay: "symbol" }).format(value);'
    first = a.turn("The currency display may have changed defaults in newer ICU data. I'll pin `currencyDisplay` explicitly.", a.replace_in_file("src/utils/format.ts", plain, sym))
    a.turn("", a.execute("npm test", fail))
    a.turn("That didn't change the output. Reverting to the original call.", a.replace_in_file("src/utils/format.ts", sym, plain))
    a.turn("", a.execute("npm test", fail))
    a.turn("Let me try pinning the display mode again; the previous run may have used a cached transform.", a.replace_in_file("src/utils/format.ts", plain, sym))
    a.turn("", a.execute("npm test", fail))
    a.turn("Same result. Restoring the original line.", a.replace_in_file("src/utils/format.ts", sym, plain))
    last = a.turn("", a.execute("npm test", fail))
    a.turn("", a.complete("I couldn't fix the test yet. The received string contains a non-breaking space (U+00A0) between amount and `€` that newer ICU data emits; "
                          "pinning `currencyDisplay` doesn't affect that. The fix is to normalise the space in `formatCurrency` or to expect `\\u00a0` in the test."))
    a.end()
    tr.label("loop", first, last, "Period-4 cycle twice: add currencyDisplay, npm test (same NBSP failure), revert, npm test (same failure).")
