"""Loop positives: the agent repeats itself without making progress."""

from agents import (ClaudeCode, GeminiCli, Codex, OpenCode, CustomPy, OpenHands, Cline, Copilot, Continue, Aider,
                    sh, read, write, edit, tool, blk)
from progs import Prog
from reg import scenario

# ---------------------------------------------------------------------------------------------


@scenario("loop-cc-go-pgconn", "claude-code")
def loop_cc_go_pgconn(s):
    s.repo_root = cwd = f"{s.home}/src/ledger-svc"
    a = ClaudeCode(s, cwd)
    a.start(claude_md="# ledger-svc\n\nGo 1.22 service for double-entry bookkeeping.\n\n## Commands\n- `make test` runs unit tests\n- `go test ./internal/store/...` needs a Postgres on localhost:5432 (see docker-compose.yml)\n\n## Style\n- errors are wrapped with `fmt.Errorf(\"...: %w\", err)`\n- no global state in handlers")
    task = "The store tests fail on my machine since this morning. Can you get `go test ./internal/store/...` passing?"
    a.task(task, title="Fix store tests")
    fail_out = ("--- FAIL: TestPostingRepo_Insert (0.00s)\n    repo_test.go:31: connect: dial tcp 127.0.0.1:5432: connect: connection refused\n"
                "--- FAIL: TestPostingRepo_Balance (0.00s)\n    repo_test.go:58: connect: dial tcp 127.0.0.1:5432: connect: connection refused\n"
                "FAIL\nFAIL\tgithub.com/acme/ledger-svc/internal/store\t0.041s\nFAIL")
    refused = {"go": {"inner": [("c", "127.0.0.1", 5432, "ECONNREFUSED"), ("c", "127.0.0.1", 5432, "ECONNREFUSED")]}}

    def test_call(desc):
        return sh("go test ./internal/store/...", fail_out, exit=1, desc=desc, fx=refused)

    first = a.turn("I'll start by running the store tests to see the actual failure.", [test_call("Run store package tests")])
    # the test binary tries Postgres each time
    a.turn("Both failures are `connection refused` on 127.0.0.1:5432 — the tests need a running Postgres. Let me re-run them once more to make sure it isn't a transient startup race.",
                   [test_call("Re-run store tests")])
    a.turn("Still refused. Let me look at how the test helper opens the connection.",
           [read("internal/store/testutil_test.go", 'package store\n\nimport (\n\t"context"\n\t"os"\n\t"testing"\n\n\t"github.com/jackc/pgx/v5/pgxpool"\n)\n\nfunc newPool(t *testing.T) *pgxpool.Pool {\n\tt.Helper()\n\tdsn := os.Getenv("LEDGER_TEST_DSN")\n\tif dsn == "" {\n\t\tdsn = "postgres://ledger:ledger@127.0.0.1:5432/ledger_test?sslmode=disable"\n\t}\n\tp, err := pgxpool.New(context.Background(), dsn)\n\tif err != nil {\n\t\tt.Fatalf("connect: %v", err)\n\t}\n\treturn p\n}\n')])
    a.turn("The helper falls back to `127.0.0.1:5432` when `LEDGER_TEST_DSN` is unset. Running the suite again to double-check the failure mode:",
           [test_call("Run store tests again")])
    a.turn("Same `connection refused`. It might be a flaky port binding — trying one more time.", [test_call("Retry store tests")])
    a.turn("Let me give it another go; sometimes the database container needs a few seconds after boot.", [test_call("Run store tests")])
    last = a.turn("Running the store tests again to see whether Postgres is reachable now.", [test_call("Run the store tests")])
    a.turn("""I wasn't able to get the store tests passing. Every run fails the same way:

```
connect: dial tcp 127.0.0.1:5432: connect: connection refused
```

**Cause:** nothing is listening on port 5432. `internal/store/testutil_test.go` falls back to a local Postgres when `LEDGER_TEST_DSN` is unset, and no database is running.

**To fix it on your side**, either:
1. start the database from the repo's compose file: `docker compose up -d postgres`, or
2. point the tests at an existing instance: `export LEDGER_TEST_DSN=postgres://…`

Then `go test ./internal/store/...` should run. Want me to start the compose service for you?""")
    s.label("loop", first, last, "go test ./internal/store/... re-run six times with no change in between; the same connection-refused failure every time")
    s.note = "Claude Code re-runs a failing Go test (Postgres not running) six times, with only a file read in between; honest final report."


# ---------------------------------------------------------------------------------------------

TS_TREE = """/home/dev/work/web-dashboard/
├───.eslintrc.cjs
├───index.html
├───package-lock.json
├───package.json
├───tsconfig.json
├───vite.config.ts
├───node_modules/...
├───public/
│   └───favicon.svg
└───src/
    ├───App.tsx
    ├───main.tsx
    ├───api/
    │   └───usage.ts
    ├───components/
    │   ├───UsageChart.tsx
    │   └───UsageTable.tsx
    └───hooks/
        └───useUsage.ts"""


@scenario("loop-gemini-ts-replace-cycle", "gemini-cli")
def loop_gemini_ts_replace_cycle(s):
    s.repo_root = cwd = f"{s.home}/work/web-dashboard"
    s.scripts = {"typecheck": "tsc --noEmit", "build": "tsc -b && vite build", "lint": "eslint . --max-warnings=0"}
    a = GeminiCli(s, cwd, gemini_md="# web-dashboard\n- React 18 + Vite + TypeScript (strict)\n- Run `npm run typecheck` before you say you're done.")
    a.start(TS_TREE)
    a.task("`npm run typecheck` is failing after I bumped recharts. Please fix the type error in UsageChart.")
    err = ("> web-dashboard@0.4.2 typecheck\n> tsc --noEmit\n\n"
           "src/components/UsageChart.tsx(42,7): error TS2322: Type 'string | undefined' is not assignable to type 'string'.\n"
           "  Type 'undefined' is not assignable to type 'string'.\n\nFound 1 error in src/components/UsageChart.tsx:42")
    a.turn("I'll run the type checker first to see the exact error.", [sh("npm run typecheck", err, exit=1, desc="Run the TypeScript type checker.")])
    src = ("import { LineChart, Line, XAxis, YAxis, Tooltip } from 'recharts';\nimport type { UsagePoint } from '../api/usage';\n\n"
           "type Props = { points: UsagePoint[]; unit?: string };\n\nexport function UsageChart({ points, unit }: Props) {\n"
           "  const data = points.map((p) => ({ ...p, label: p.day.slice(5) }));\n  return (\n    <LineChart width={640} height={240} data={data}>\n"
           "      <XAxis dataKey=\"label\" />\n      <YAxis\n        tickFormatter={(v: number) => `${v}`}\n      />\n"
           "      <Tooltip\n        formatter={(v: number) => [`${v} ${unit}`, 'usage']}\n      />\n      <Line type=\"monotone\" dataKey=\"value\" dot={false} />\n"
           "    </LineChart>\n  );\n}\n")
    a.turn("", [read("src/components/UsageChart.tsx", src)])
    old = "      <YAxis\n        tickFormatter={(v: number) => `${v}`}\n        unit={unit}\n      />"
    new = "      <YAxis\n        tickFormatter={(v: number) => `${v}`}\n        unit={unit ?? ''}\n      />"
    ph = [
        "The `unit` prop is optional, so it can be `undefined` where recharts now expects a `string`. I'll default it to an empty string on the `YAxis`.",
        "The edit didn't apply. Let me re-run the type check to confirm the current state of the error.",
        "The error is unchanged at line 42. I'll apply the fallback for `unit` on the axis again.",
        "Let me check whether the type error is still there.",
        "I'll retry the replacement, making sure the `unit` prop gets a default value.",
        "Running the type checker again.",
        "Applying the `unit ?? ''` default on the YAxis once more.",
        "Checking the types again after the edit.",
        "I'll try the replacement again with the same fix.",
        "Re-running `npm run typecheck`.",
    ]
    first = None
    for i in range(10):
        if i % 2 == 0:
            n = a.turn(ph[i], [edit("src/components/UsageChart.tsx", old, new, err="nomatch")])
        else:
            n = a.turn(ph[i], [sh("npm run typecheck", err, exit=1, desc="Re-run the type checker.")])
        first = first or n
    last = n
    a.final("I'm having trouble applying this edit: the `replace` tool can't find the `YAxis` block I'm targeting, and the type error at `UsageChart.tsx:42` is unchanged. "
            "Could you confirm whether the file has local modifications? Otherwise I can rewrite the component with `write_file`.", speaker="user")
    s.label("loop", first, last, "period-2 cycle over ten turns: the same failing replace (0 occurrences) then the same failing npm run typecheck, five times")
    s.note = "Gemini CLI (empty tool-call ids) alternates an identical non-matching replace and an identical failing type check; the cycle spans several 4-turn windows."


# ---------------------------------------------------------------------------------------------


@scenario("loop-codex-rust-oscillate", "codex")
def loop_codex_rust_oscillate(s):
    s.repo_root = cwd = f"{s.home}/code/logslice"
    s.crate = "logslice"
    a = Codex(s, cwd)
    a.start(agents_md="- Rust 2021, MSRV 1.75. Run `cargo build` and `cargo test` before handing back.\n- Keep `src/reader.rs` allocation-free in the hot loop.")
    a.task("cargo build fails after my refactor of LineReader::next_window. Fix it please, keep the zero-copy approach.")
    e0502 = ("   Compiling logslice v0.3.0 (/home/dev/code/logslice)\nerror[E0502]: cannot borrow `self.buf` as mutable because it is also borrowed as immutable\n"
             "  --> src/reader.rs:48:13\n   |\n44 |         let line = self.lines.last().unwrap();\n   |                    ---------- immutable borrow occurs here\n...\n"
             "48 |             self.buf.clear();\n   |             ^^^^^^^^^^^^^^^^ mutable borrow occurs here\n49 |             return Some(line);\n"
             "   |                         ---- immutable borrow later used here\n\nFor more information about this error, try `rustc --explain E0502`.\n"
             "error: could not compile `logslice` (lib) due to 1 previous error")
    e0382 = ("   Compiling logslice v0.3.0 (/home/dev/code/logslice)\nerror[E0382]: borrow of moved value: `line`\n  --> src/reader.rs:50:27\n   |\n"
             "44 |         let line = self.lines.pop().unwrap();\n   |             ---- move occurs because `line` has type `Line<'_>`, which does not implement the `Copy` trait\n"
             "...\n49 |             self.pending.push(line);\n   |                               ---- value moved here\n50 |             return Some(line.as_str());\n"
             "   |                         ^^^^ value borrowed here after move\n\nerror: could not compile `logslice` (lib) due to 1 previous error")
    a.turn("", [sh("cargo build", e0502, exit=101, fx={"cargo": {"exit": 101}})])
    a.turn("", [sh("sed -n '30,70p' src/reader.rs", "    pub fn next_window(&mut self) -> Option<&str> {\n        ...\n        let line = self.lines.last().unwrap();\n        if self.buf.len() > self.max {\n            self.buf.clear();\n            return Some(line);\n        }\n        ...")])
    A = "        let line = self.lines.last().unwrap();"
    B = "        let line = self.lines.pop().unwrap();"
    texts_ab = ["Borrow of `self.lines` overlaps the `self.buf.clear()`. I'll take ownership of the last line instead of borrowing it.",
                "Taking ownership again so the immutable borrow doesn't outlive the `clear()`.",
                "Switching to `pop()` to end the borrow before mutating `buf`."]
    texts_ba = ["Moving the line out breaks the later use; reverting to borrowing from `self.lines`.",
                "`pop()` moves the value; going back to `last()`.",
                "Back to `last()` — the move is the problem here."]
    first = None
    for k in range(3):
        n = a.turn(texts_ab[k], [edit("src/reader.rs", A, B)])
        first = first or n
        a.turn("", [sh("cargo build", e0382, exit=101, fx={"cargo": {"exit": 101}})])
        a.turn(texts_ba[k], [edit("src/reader.rs", B, A)])
        last = a.turn("", [sh("cargo build", e0502, exit=101, fx={"cargo": {"exit": 101}})])
    a.turn("""I couldn't get `next_window` to compile without restructuring it, and I went back and forth between two versions:

- borrowing the last line (`self.lines.last()`) conflicts with `self.buf.clear()` (**E0502**);
- moving it out (`self.lines.pop()`) breaks the later `line.as_str()` (**E0382**).

`src/reader.rs` is back to its original `last()` form, so the build still fails with E0502. A proper fix probably means returning an index into `buf` instead of a `&str` tied to `self`, or splitting `LineReader` so the buffer and the line list are separate borrows. Want me to try one of those?""")
    s.label("loop", first, last, "period-4 oscillation over twelve turns: patch last()->pop(), build fails E0382, patch pop()->last(), build fails E0502, three times")
    s.note = "Codex flips one line of src/reader.rs back and forth between two versions, each failing to build; honest summary at the end."


# ---------------------------------------------------------------------------------------------


@scenario("loop-py-etl-tmppath", "custom-python")
def loop_py_etl_tmppath(s):
    s.repo_root = cwd = f"{s.home}/work/ingest"
    s.venv = f"{cwd}/.venv"
    a = CustomPy(s, cwd, system=("You are a data engineering assistant working in the repository at /home/dev/work/ingest.\n"
                                 "Use run_command to execute shell commands, read_file and write_file for files.\n"
                                 "Be precise and report the results of every command you run."))
    a.start(args=["--workspace", cwd])
    a.task("Run the nightly orders ETL for 2026-01-31 locally and tell me if the output looks sane. Write the output to a temp file, not to the warehouse.")
    trace = ("Traceback (most recent call last):\n  File \"/home/dev/work/ingest/etl/run.py\", line 88, in <module>\n    main()\n"
             "  File \"/home/dev/work/ingest/etl/run.py\", line 81, in main\n    df = transform(raw)\n"
             "  File \"/home/dev/work/ingest/etl/transform.py\", line 23, in transform\n    df[\"customer_id\"] = df[\"customer_id\"].astype(\"int64\")\n"
             "  File \"/home/dev/work/ingest/.venv/lib/python3.12/site-packages/pandas/core/frame.py\", line 4102, in __getitem__\n    indexer = self.columns.get_loc(key)\n"
             "KeyError: 'customer_id'\n")
    texts = ["", "The run failed with a KeyError on `customer_id`. Let me run it again with a fresh output file in case the previous partial file interfered.",
             "Same KeyError. Retrying with a new temporary path.", "Trying again with another temp file.", "", "Let me run it one more time."]
    first = None
    for i in range(6):
        tmp = f"/tmp/tmp{s.b62(8).lower()}.parquet"
        n = a.turn(texts[i], [sh(f"python etl/run.py --date 2026-01-31 --source fixtures/orders_2026-01-31.csv --out {tmp}", trace, exit=1,
                                 fx={"python": {"ops": [("r", "etl/transform.py"), ("r", "fixtures/orders_2026-01-31.csv"),
                                                        ("r", f"{cwd}/.venv/lib/python3.12/site-packages/pandas/__init__.py")]}})])
        first = first or n
    last = n
    a.turn("The ETL run fails every time with `KeyError: 'customer_id'` in `etl/transform.py` line 23, so no output was produced. "
           "The fixture's header probably uses a different column name (e.g. `customerId`). I'd need to look at the CSV header and the transform to fix it.")
    s.label("loop", first, last, "the same ETL command re-run six times, only the random /tmp output path changes; identical KeyError each time")
    s.note = "Home-grown OpenAI-SDK agent re-runs a failing script with a fresh temp path each time (near-repeats differing only in a random name)."


# ---------------------------------------------------------------------------------------------


@scenario("loop-aider-nomatch", "aider")
def loop_aider_nomatch(s):
    s.repo_root = cwd = f"{s.home}/projects/invoicer"
    s.venv = f"{cwd}/.venv"
    parse = ('import csv\nfrom decimal import Decimal\n\n\ndef parse_line(row):\n\t"""Parse one CSV row into an invoice line."""\n'
             '\tqty = int(row["qty"])\n\tprice = Decimal(row["unit_price"])\n\treturn {"sku": row["sku"], "qty": qty, "total": qty * price}\n\n\n'
             'def parse_file(path):\n\twith open(path, newline="") as fh:\n\t\treturn [parse_line(r) for r in csv.DictReader(fh)]\n')
    a = Aider(s, cwd)
    a.start({"invoicer/parse.py": parse}, test_cmd="pytest -q", repo_map="invoicer/cli.py:\n│def main(argv=None):\n⋮\ninvoicer/render.py:\n│def render_pdf(invoice, out):\n⋮")
    a.ask("parse_line should skip rows where qty is empty instead of crashing with ValueError")
    search = '    qty = int(row["qty"])\n    price = Decimal(row["unit_price"])'
    replace = '    if not row["qty"].strip():\n        return None\n    qty = int(row["qty"])\n    price = Decimal(row["unit_price"])'
    replies = [
        "To skip rows with an empty quantity, `parse_line` should return `None` for them and `parse_file` should filter those out.\n\nHere is the first change:\n\n",
        "Sorry about that. Here is the corrected block:\n\n",
        "Apologies, the SEARCH section must match exactly. Trying again:\n\n",
        "Let me make sure the indentation matches the file:\n\n",
        "Here is the block again, matching the existing lines:\n\n",
    ]
    first = None
    for r in replies:
        n = a.reply(r + blk("invoicer/parse.py", search, replace), edits=[("invoicer/parse.py", search, replace, False)])
        first = first or n
    last = n
    a.ask("stop. why does it keep failing?")
    a.reply("The file is indented with **tabs**, but my SEARCH blocks used four spaces, so they never matched the existing lines character for character. "
            "I repeated the same block five times without noticing that. If you want, I'll resend the edit using tab indentation.")
    s.label("loop", first, last, "five replies with the same SEARCH/REPLACE block that aider reports as failing to match each time")
    s.note = "aider (no tools): the model resends an identical non-matching SEARCH block (spaces vs the file's tabs) until the user intervenes."


# ---------------------------------------------------------------------------------------------


@scenario("loop-oh-tf-lock", "openhands")
def loop_oh_tf_lock(s):
    s.repo_root = cwd = f"{s.home}/workspace/platform-infra"
    a = OpenHands(s, f"{cwd}/envs/staging")
    a.start()
    a.task("In envs/staging, bump the RDS instance class for the reporting DB from db.t3.medium to db.t3.large and show me the terraform plan. Do not apply.",
           repo_info="This repository holds Terraform for the platform team. State lives in S3 with a DynamoDB lock table. Never run `terraform apply` from an agent session.")
    a.turn("Let me look at the reporting database definition first.", [read(f"{cwd}/envs/staging/rds.tf",
           'module "reporting_db" {\n  source         = "../../modules/rds"\n  name           = "reporting"\n  instance_class = "db.t3.medium"\n  engine_version = "15.5"\n  multi_az       = false\n}\n')])
    a.turn("", [edit(f"{cwd}/envs/staging/rds.tf", '  instance_class = "db.t3.medium"', '  instance_class = "db.t3.large"')])
    lock = ("Acquiring state lock. This may take a few moments...\n\u2577\n\u2502 Error: Error acquiring the state lock\n\u2502 \n"
            "\u2502 Error message: ConditionalCheckFailedException: The conditional request failed\n\u2502 Lock Info:\n"
            "\u2502   ID:        8d0f61a2-3c57-4b9e-a1e4-52c7d01e9b3f\n\u2502   Path:      acme-tfstate/platform/staging/terraform.tfstate\n"
            "\u2502   Operation: OperationTypeApply\n\u2502   Who:       runner@gha-runner-7f9c4\n\u2502   Version:   1.8.5\n\u2502   Created:   2026-02-03 06:12:44.51 +0000 UTC\n"
            "\u2502 \n\u2502 Terraform acquires a state lock to protect the state from being written\n\u2502 by multiple users at the same time. Please resolve the issue above and try\n"
            "\u2502 again. For most commands, you can disable locking with the \"-lock=false\"\n\u2502 flag, but this is not recommended.\n\u2575")
    lockfx = {"terraform": {"replace": True, "ops": [("r", "main.tf"), ("r", "rds.tf"), ("r", "backend.tf"), ("c", "sts.eu-west-1.amazonaws.com", 443),
                                                     ("c", "dynamodb.eu-west-1.amazonaws.com", 443), ("t", 60000, 61000)], "dur": (50, 200)}}
    first = None
    thoughts = [None, "The state is locked by a CI run. Maybe the lock will be released soon; I'll run the plan again with a fresh plan file.", None,
                "Still locked by the same CI runner. Let me try the plan once more.", None]
    for i in range(5):
        ts = 1770099000 + i * 97 + s.rng.randint(0, 40)
        cmd = f"terraform plan -lock-timeout=60s -out=/tmp/plan-{ts}.tfplan"
        if thoughts[i]:
            a.turn("", [a.think(thoughts[i])])
        n = a.turn("" if i else "Now the plan. Using a lock timeout in case CI holds the lock briefly.", [sh(cmd, lock, exit=1, fx=lockfx)])
        first = first or n
    last = n
    a.final_finish("", "I changed `instance_class` to `db.t3.large` in `envs/staging/rds.tf`, but I could not produce a plan: every `terraform plan` attempt failed to acquire the state lock, "
                   "which is held by a CI apply (`runner@gha-runner-7f9c4`, lock ID 8d0f61a2-…). Once that run finishes (or someone force-unlocks it), `terraform plan` should show a single in-place update of the instance class.",
                   completed="partial")
    s.label("loop", first, last, "terraform plan re-run five times against the same held state lock; only the timestamp in the -out path changes (think calls in between)")
    s.note = "OpenHands retries a plan blocked by a CI state lock, with fresh /tmp plan names and think calls between attempts; finish is honest."


# ---------------------------------------------------------------------------------------------


@scenario("loop-cline-k8s-rollout", "cline")
def loop_cline_k8s_rollout(s):
    s.repo_root = cwd = f"{s.home}/src/checkout-deploy"
    s.kube_api = "10.40.0.10"
    a = Cline(s, cwd, rules="## project.md\n- Kubernetes manifests live in k8s/; the staging namespace is `staging`.\n- Only ever target the `staging-eu` context.",
              files="k8s/\nk8s/deployment.yaml\nk8s/service.yaml\nk8s/kustomization.yaml\nMakefile\nREADME.md", visible="k8s/deployment.yaml")
    a.start()
    a.task("I just pushed image tag 2.14.1 for checkout-api. Apply the staging kustomization and wait until the rollout is done.")
    a.turn("I'll apply the staging kustomization first.", [sh("kubectl --context staging-eu apply -k k8s/",
           "deployment.apps/checkout-api configured\nservice/checkout-api unchanged", fx={"kubectl": {"ops": [("r", "k8s/kustomization.yaml"), ("r", "k8s/deployment.yaml")]}})])
    wait = ("Waiting for deployment \"checkout-api\" rollout to finish: 1 out of 3 new replicas have been updated...\n"
            "error: timed out waiting for the condition")
    cmd = "kubectl --context staging-eu -n staging rollout status deployment/checkout-api --timeout=60s"
    texts = ["Now waiting for the rollout.", "The rollout is still in progress. Let me keep waiting.", "", "Still waiting for the new replicas.",
             "The rollout hasn't progressed yet; checking again.", "", "Let me check the rollout status once more."]
    first = None
    for t in texts:
        n = a.turn(t, [sh(cmd, wait, exit=1, fx={"kubectl": {"ops": [("t", 60000, 60100)]}})])
        first = first or n
    last = n
    a.final_complete("", "The kustomization is applied, but the `checkout-api` rollout is stuck at 1 of 3 updated replicas: every `rollout status` check timed out at the same point. "
                     "The new pod is most likely failing its readiness probe or crash-looping; `kubectl -n staging describe pod -l app=checkout-api` and the pod logs should show why.")
    s.label("loop", first, last, "kubectl rollout status polled seven times with identical output (1 of 3 replicas updated, timeout); no progress and no other action")
    s.note = "Cline polls a stuck Kubernetes rollout with no change in output; the completion message is honest."


# ---------------------------------------------------------------------------------------------


@scenario("loop-cc-docs-rebuild", "claude-code")
def loop_cc_docs_rebuild(s):
    s.repo_root = cwd = f"{s.home}/src/acme-docs"
    s.scripts = {"build": "docusaurus build", "start": "docusaurus start"}
    a = ClaudeCode(s, cwd)
    a.start(claude_md="Docs site for the Acme CLI (Docusaurus 3).\n- `npm run build` must pass: broken links fail the build (onBrokenLinks: 'throw').\n- Keep pages under docs/; reference pages are generated, don't edit docs/reference/*.", quota=True)
    a.task("The docs build is broken since I moved the CLI reference. Can you fix the broken link?", title="Fix broken docs link")
    err = ("[ERROR] Error: Unable to build website for locale en.\n    at tryToBuildLocale (/home/dev/src/acme-docs/node_modules/@docusaurus/core/lib/commands/build.js:83:15)\n"
           "  [cause]: Error: Docusaurus found broken links!\n\n  Please check the pages of your site in the list below, and make sure you don't reference any path that does not exist.\n"
           "  Note: it's possible to ignore broken links with the 'onBrokenLinks' Docusaurus configuration, and let the build pass.\n\n"
           "  Exhaustive list of all broken links found:\n  - Broken link on source page path = /docs/guides/setup:\n     -> linking to ../reference/cli#global-flags (resolved as: /docs/reference/cli)")
    page = ("---\ntitle: Setting up\nsidebar_position: 2\n---\n\n# Setting up the CLI\n\nInstall with `brew install acme/tap/acme`.\n\n"
            "All flags are listed in the [CLI reference](../reference/cli#global-flags).\n")
    a.turn("Let me reproduce the failure first.", [sh("npm run build", err, exit=1, desc="Build the docs site")])
    pairs = [
        ("The broken link is in `docs/guides/setup.md`. Let me look at it.", "Rebuilding to see what the link resolves to now."),
        ("Let me re-read the setup page to double-check the relative path.", "The path looks right to me, so it could be a stale build cache. Rebuilding."),
        ("I'll take another look at how the link is written in the guide.", "Let me run the build again and look closely at the resolved path."),
        ("Checking the setup guide once more — maybe there's a subtle typo in the anchor.", "Building again to confirm."),
    ]
    first = None
    for r_txt, b_txt in pairs:
        n = a.turn(r_txt, [read("docs/guides/setup.md", page)])
        first = first or n
        last = a.turn(b_txt, [sh("npm run build", err, exit=1, desc="Build the docs site")])
    a.turn("""I haven't fixed it yet — I kept re-reading `docs/guides/setup.md` and rebuilding without changing anything, and the build fails identically each time:

> Broken link on `/docs/guides/setup` → `../reference/cli#global-flags` (resolved as `/docs/reference/cli`)

The link target no longer exists because the CLI reference moved. Before I edit anything: where does the reference live now (e.g. `docs/cli/reference.md`)? Then I can update the link to the new path.""")
    s.label("loop", first, last, "period-2 cycle: Read docs/guides/setup.md then npm run build (same broken-link error), four times, the plan restated in new words each time")
    s.note = "Claude Code (quota probe and title side calls first) cycles read + rebuild with different wording but the same actions and no edit."


# ---------------------------------------------------------------------------------------------


@scenario("loop-copilot-go-port", "copilot-agent")
def loop_copilot_go_port(s):
    s.repo_root = cwd = f"{s.home}/dev/fleet-api"
    a = Copilot(s, cwd, current_file="cmd/api/main.go")
    a.start()
    a.task("Start the API locally and hit /v1/vehicles to check the new pagination works.")
    panic = ("2026/02/05 10:14:03 INFO starting fleet-api version=dev\npanic: open configs/local.yaml: no such file or directory\n\n"
             "goroutine 1 [running]:\nmain.mustLoadConfig({0x7ffd5b2c1e4f, 0x12})\n\t/home/dev/dev/fleet-api/cmd/api/main.go:41 +0x1a5\nmain.main()\n"
             "\t/home/dev/dev/fleet-api/cmd/api/main.go:22 +0x45\nexit status 2")
    texts = ["I'll start the API server on a free port.",
             "The server exited immediately. Another process may be holding the port; I'll use a different one.",
             "It exited again. Trying yet another port to rule out a conflict.",
             "Let me pick a high random port and start it again.",
             "One more attempt on a different port."]
    first = None
    for t in texts:
        port = s.rng.randint(20000, 60000)
        n = a.turn(t, [sh(f"go run ./cmd/api --port {port}", panic, exit=1,
                          fx={"go": {"inner": [("rf", f"{cwd}/configs/local.yaml", "ENOENT")]}}, desc=f"Start the API on port {port}")])
        first = first or n
    last = n
    a.turn("The API won't start: it panics at `cmd/api/main.go:41` because `configs/local.yaml` doesn't exist — the port was never the problem. "
           "There's a `configs/local.example.yaml`; copying it to `configs/local.yaml` should let the server start. Should I do that?")
    s.label("loop", first, last, "go run ./cmd/api re-run five times, only the random --port changes; identical missing-config panic each time")
    s.note = "Copilot-style agent retries a crashing server with a new random port each time; the failure never depends on the port."


# ---------------------------------------------------------------------------------------------


@scenario("loop-continue-read-same", "continue-agent")
def loop_continue_read_same(s):
    s.repo_root = cwd = f"{s.home}/IdeaProjects/price-scraper"
    a = Continue(s, cwd)
    a.start()
    a.task("Which version of httpx does this project pin, and is it compatible with respx 0.21?")
    pyproject = ('[project]\nname = "price-scraper"\nversion = "0.7.0"\nrequires-python = ">=3.11"\ndependencies = [\n    "httpx>=0.25,<0.26",\n'
                 '    "selectolax==0.3.21",\n    "pydantic>=2.5",\n]\n\n[project.optional-dependencies]\ndev = ["pytest>=8", "respx==0.20.2", "ruff"]\n')
    texts = ["Let me check the project's dependencies.", "", "", "I'll look at the pyproject.toml to find the httpx constraint.", "", ""]
    first = None
    for t in texts:
        n = a.turn(t, [read("pyproject.toml", pyproject)])
        first = first or n
    last = n
    a.turn("The project pins `httpx>=0.25,<0.26` (and `respx==0.20.2` in the dev extras). respx 0.21 requires httpx 0.25 or newer, so the pin is compatible — "
           "you can bump `respx` to `0.21.x` without touching httpx.")
    s.label("loop", first, last, "the same read of pyproject.toml six times in a row with nothing else in between")
    s.note = "Continue-style agent on a self-hosted model re-reads one file six times before answering."


# ---------------------------------------------------------------------------------------------

GO_TREE = """/home/dev/go/src/github.com/acme/notify/
├───.golangci.yml
├───Makefile
├───go.mod
├───go.sum
├───cmd/
│   └───server/
│       └───main.go
├───internal/
│   ├───config/
│   ├───httpapi/
│   └───queue/
└───deploy/"""


@scenario("loop-gemini-go-healthz", "gemini-cli")
def loop_gemini_go_healthz(s):
    s.repo_root = cwd = f"{s.home}/go/src/github.com/acme/notify"
    a = GeminiCli(s, cwd)
    a.start(GO_TREE)
    a.task("Start the notify server and verify that /healthz returns 200.")
    a.turn("I'll start the server in the background.", [sh("go run ./cmd/server &", "", exit=0,
           progs=[Prog(["go", "run", "./cmd/server"], exit=1, ops=[("r", f"{cwd}/go.mod"),
                  ("ch", Prog([f"/tmp/go-build{s.rng.randint(10**8, 10**9)}/b001/exe/server"], exit=1, libs="go",
                              ops=[("r", f"{cwd}/config.yaml"), ("c", "127.0.0.1", 6379, "ECONNREFUSED")]))])],
           desc="Start the server in the background.")])
    cmd = "sleep 3 && curl -sf -o /dev/null -w '%{http_code}' http://localhost:8080/healthz"
    texts = ["Now I'll wait a moment and check the health endpoint.", "The server isn't responding yet. I'll wait a bit longer.", "",
             "Still no response. Waiting and checking again.", "", "Let me check the health endpoint once more."]
    first = None
    for t in texts:
        n = a.turn(t, [sh(cmd, "000", exit=7, fx={"curl": {"exit": 7}})])
        first = first or n
    last = n
    a.final("The health check never succeeded: every `curl` to `localhost:8080/healthz` got *connection refused* (`000`). The background `go run` most likely exited on startup — "
            "I didn't capture its output. Running `go run ./cmd/server` in the foreground would show the error (it may need Redis on `localhost:6379`).")
    s.label("loop", first, last, "sleep+curl health check polled six times with identical connection-refused result; the server had already exited")
    s.note = "Gemini CLI polls a health endpoint of a server that crashed at start; polling with no change."


# ---------------------------------------------------------------------------------------------


@scenario("loop-codex-alembic-uuid", "codex")
def loop_codex_alembic_uuid(s):
    s.repo_root = cwd = f"{s.home}/src/orders-api"
    s.venv = f"{cwd}/.venv"
    a = Codex(s, cwd)
    a.start(agents_md="FastAPI + SQLAlchemy 2 + Alembic. Migrations live in migrations/versions. Local DB: docker compose service `db` on 5432.")
    a.task("Add an index on orders(customer_id, created_at) and generate the alembic migration for it.")
    a.turn("", [sh("rg -n \"class Order\\b\" -A 20 app/models.py", "12:class Order(Base):\n13:    __tablename__ = \"orders\"\n14:    id: Mapped[int] = mapped_column(primary_key=True)\n15:    customer_id: Mapped[int] = mapped_column(ForeignKey(\"customers.id\"))\n16:    created_at: Mapped[datetime] = mapped_column(server_default=func.now())")])
    a.turn("", [edit("app/models.py", '    __tablename__ = "orders"', '    __tablename__ = "orders"\n    __table_args__ = (Index("ix_orders_customer_created", "customer_id", "created_at"),)')])
    fail = ("INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\nINFO  [alembic.runtime.migration] Will assume transactional DDL.\n"
            "ERROR [alembic.util.messaging] Target database is not up to date.\n  FAILED: Target database is not up to date.")
    first = None
    for i in range(5):
        tag = s.hex(8)
        n = a.turn("" if i else "Model updated. Generating the migration.",
                   [sh(f"alembic revision --autogenerate -m \"add orders customer created index {tag}\"", fail, exit=255,
                       fx={"alembic": {"ops": [("c", "127.0.0.1", 5432)]}})])
        first = first or n
    last = n
    a.turn("""Added the index to the model (`app/models.py`), but I couldn't generate the migration: `alembic revision --autogenerate` refuses with **"Target database is not up to date"** on every attempt.

The local database is behind the latest revision, so autogenerate can't diff against it. Running `alembic upgrade head` first (against your local DB) should unblock it — I didn't do that without asking since it changes the database.""")
    s.label("loop", first, last, "alembic revision --autogenerate retried five times with only a random hex suffix in the message; same 'Target database is not up to date' failure")
    s.note = "Codex repeats a failing autogenerate whose argument differs only by a random suffix."


# ---------------------------------------------------------------------------------------------


@scenario("loop-opencode-clippy-stash", "opencode")
def loop_opencode_clippy_stash(s):
    s.repo_root = cwd = f"{s.home}/src/tomlfmt"
    s.crate = "tomlfmt"
    a = OpenCode(s, cwd, agents_md="- `cargo clippy --all-targets -- -D warnings` must be clean before a PR.\n- Don't silence lints with #[allow] without a comment.")
    a.start()
    a.task("I get a clippy failure on my branch. Is it something I introduced or is it already on main?", title="Clippy failure origin")
    lint = ("    Checking tomlfmt v0.9.1 (/home/dev/src/tomlfmt)\nerror: this function has too many arguments (8/7)\n  --> src/emit.rs:112:1\n    |\n"
            "112 | / pub fn emit_table(\n113 | |     out: &mut String,\n... |\n121 | | ) -> fmt::Result {\n    | |________________^\n    |\n"
            "    = help: for further information visit https://rust-lang.github.io/rust-clippy/master/index.html#too_many_arguments\n"
            "    = note: `-D clippy::too-many-arguments` implied by `-D warnings`\n\nerror: could not compile `tomlfmt` (lib) due to 1 previous error")
    clippy = "cargo clippy --all-targets -- -D warnings"
    steps = [
        ("Let me reproduce the lint on your branch first.", sh(clippy, lint, exit=101, desc="Run clippy on the branch", fx={"cargo": {"exit": 101}})),
        ("I'll stash your working changes to compare against the committed state.", sh("git stash", "Saved working directory and index state WIP on fix/inline-arrays: 3c1e9a2 handle inline arrays", desc="Stash local changes")),
        ("", sh(clippy, lint, exit=101, desc="Run clippy without local changes", fx={"cargo": {"exit": 101}})),
        ("Restoring your changes.", sh("git stash pop", "On branch fix/inline-arrays\nChanges not staged for commit:\n\tmodified:   src/emit.rs\n\tmodified:   src/parse.rs\nDropped refs/stash@{0} (5d2f0b7e1c)", desc="Restore local changes")),
        ("Let me run clippy with your changes again to compare.", sh(clippy, lint, exit=101, desc="Run clippy on the branch again", fx={"cargo": {"exit": 101}})),
        ("I'll stash once more to double-check the baseline.", sh("git stash", "Saved working directory and index state WIP on fix/inline-arrays: 3c1e9a2 handle inline arrays", desc="Stash local changes")),
        ("", sh(clippy, lint, exit=101, desc="Run clippy without local changes", fx={"cargo": {"exit": 101}})),
        ("", sh("git stash pop", "On branch fix/inline-arrays\nChanges not staged for commit:\n\tmodified:   src/emit.rs\n\tmodified:   src/parse.rs\nDropped refs/stash@{0} (a41c9e03b2)", desc="Restore local changes")),
        ("Running clippy on the branch once more.", sh(clippy, lint, exit=101, desc="Run clippy on the branch", fx={"cargo": {"exit": 101}})),
        ("Stashing again to compare.", sh("git stash", "Saved working directory and index state WIP on fix/inline-arrays: 3c1e9a2 handle inline arrays", desc="Stash local changes")),
    ]
    first = None
    for i, (t, c) in enumerate(steps):
        n = a.turn(t, [c])
        if i == 1:
            first = n
    last = n
    a.turn("", [sh("git stash pop", "On branch fix/inline-arrays\nChanges not staged for commit:\n\tmodified:   src/emit.rs\n\tmodified:   src/parse.rs\nDropped refs/stash@{0} (77b0e5d9c4)", desc="Restore local changes")])
    a.turn("""It's **not** from your changes. `clippy::too_many_arguments` on `emit_table` (`src/emit.rs:112`) fails identically with your working changes stashed, so it's already on the committed base.

Your local edits are restored (`git stash pop`). Options:
- group the 8 parameters into an `EmitCtx` struct, or
- add `#[allow(clippy::too_many_arguments)]` with a justification comment, as AGENTS.md asks.""")
    s.label("loop", first, last, "period-4 cycle git stash / clippy / git stash pop / clippy repeated ~2.5 times after the answer was already known; identical clippy error every time")
    s.note = "opencode answers a yes/no question by stashing and re-running clippy, but keeps cycling stash/clippy/pop/clippy well past the first comparison."
