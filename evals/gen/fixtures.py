"""Workspaces the sessions run in, and the output of the tools that run in them (pytest, vitest,
go test, cargo test, npm, pip, git). Each project function returns a fresh Project, since a
session edits its files."""

from tracekit import Project

# ----------------------------------------------------------------------------- python: lexer

SCANNER_PY = '''"""Hand-written scanner for the Mallard configuration language."""

from dataclasses import dataclass

from .tokens import Token, TokenKind, KEYWORDS


@dataclass
class Scanner:
    source: str
    pos: int = 0
    line: int = 1

    def _peek(self) -> str:
        return self.source[self.pos] if self.pos < len(self.source) else "\\0"

    def _is_ident_start(self, ch: str) -> bool:
        return ch == "_" or (ch.isascii() and ch.isalpha())

    def _is_ident_part(self, ch: str) -> bool:
        return self._is_ident_start(ch) or ch.isdigit()

    def scan_identifier(self) -> Token:
        start = self.pos
        while self._is_ident_part(self._peek()):
            self.pos += 1
        text = self.source[start:self.pos]
        kind = KEYWORDS.get(text, TokenKind.IDENT)
        return Token(kind, text, self.line)

    def scan_number(self) -> Token:
        start = self.pos
        while self._peek().isdigit() or self._peek() == "_":
            self.pos += 1
        return Token(TokenKind.NUMBER, self.source[start:self.pos].replace("_", ""), self.line)

    def tokens(self):
        while self.pos < len(self.source):
            ch = self._peek()
            if ch == "\\n":
                self.line += 1
                self.pos += 1
            elif ch.isspace():
                self.pos += 1
            elif self._is_ident_start(ch):
                yield self.scan_identifier()
            elif ch.isdigit():
                yield self.scan_number()
            else:
                yield Token(TokenKind.PUNCT, ch, self.line)
                self.pos += 1
        yield Token(TokenKind.EOF, "", self.line)
'''

TOKENS_PY = '''from dataclasses import dataclass
from enum import Enum, auto


class TokenKind(Enum):
    IDENT = auto()
    NUMBER = auto()
    STRING = auto()
    PUNCT = auto()
    KEYWORD = auto()
    EOF = auto()


KEYWORDS = {"let": TokenKind.KEYWORD, "fn": TokenKind.KEYWORD, "if": TokenKind.KEYWORD, "else": TokenKind.KEYWORD}


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    line: int
'''

TEST_SCANNER_PY = '''from lexer.scanner import Scanner
from lexer.tokens import TokenKind


def kinds(src):
    return [t.kind for t in Scanner(src).tokens()]


def test_keywords():
    assert kinds("let x") == [TokenKind.KEYWORD, TokenKind.IDENT, TokenKind.EOF]


def test_numbers_with_underscores():
    toks = list(Scanner("1_000").tokens())
    assert toks[0].text == "1000"


def test_unicode_identifiers():
    toks = list(Scanner("let größe = 3").tokens())
    assert toks[1].kind is TokenKind.IDENT
    assert toks[1].text == "größe"


def test_line_numbers():
    toks = list(Scanner("a\\nb\\nc").tokens())
    assert [t.line for t in toks[:3]] == [1, 2, 3]
'''


def lexer(root="/home/dev/proj-mallard"):
    return Project(root, {
        "pyproject.toml": '[project]\nname = "mallard-lexer"\nversion = "0.4.1"\nrequires-python = ">=3.11"\n\n[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n',
        "README.md": "# mallard-lexer\n\nScanner and token definitions for the Mallard config language.\n\n```\npip install -e .\npytest -q\n```\n",
        "src/lexer/__init__.py": "",
        "src/lexer/scanner.py": SCANNER_PY,
        "src/lexer/tokens.py": TOKENS_PY,
        "tests/test_scanner.py": TEST_SCANNER_PY,
        "tests/conftest.py": "import sys\nfrom pathlib import Path\n\nsys.path.insert(0, str(Path(__file__).parent.parent / 'src'))\n",
    }, remote="git@github.com:mallard-lang/lexer.git")


# ----------------------------------------------------------------------------- python: invoices (FastAPI)

MAIN_PY = '''from fastapi import FastAPI, HTTPException

from .db import get_session
from .models import Invoice, InvoiceIn

app = FastAPI(title="invoice-api")


@app.post("/invoices", status_code=201)
def create_invoice(body: InvoiceIn) -> Invoice:
    with get_session() as s:
        inv = Invoice.from_input(body)
        s.add(inv)
        s.commit()
        return inv


@app.get("/invoices/{invoice_id}")
def get_invoice(invoice_id: int) -> Invoice:
    with get_session() as s:
        inv = s.get(Invoice, invoice_id)
        if inv is None:
            raise HTTPException(404, "invoice not found")
        return inv


@app.get("/healthz")
def healthz():
    return {"ok": True}
'''

MODELS_PY = '''from decimal import Decimal, ROUND_DOWN

from pydantic import BaseModel
from sqlmodel import Field, SQLModel


class InvoiceIn(BaseModel):
    customer: str
    net: Decimal
    vat_rate: Decimal = Decimal("0.19")


class Invoice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    customer: str
    net: Decimal
    vat: Decimal
    total: Decimal

    @classmethod
    def from_input(cls, body: InvoiceIn) -> "Invoice":
        vat = (body.net * body.vat_rate).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return cls(customer=body.customer, net=body.net, vat=vat, total=body.net + vat)
'''

DB_PY = '''import os
from contextlib import contextmanager

from sqlmodel import Session, create_engine

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///./invoices.db")
engine = create_engine(DATABASE_URL, echo=False)


@contextmanager
def get_session():
    with Session(engine) as session:
        yield session
'''

TEST_INVOICES_PY = '''from decimal import Decimal

from fastapi.testclient import TestClient

from app.main import app

client = TestClient(app)


def test_create_invoice_rounds_vat():
    r = client.post("/invoices", json={"customer": "ACME", "net": "10.05"})
    assert r.status_code == 201
    assert Decimal(r.json()["vat"]) == Decimal("1.91")


def test_get_missing_invoice():
    assert client.get("/invoices/999999").status_code == 404


def test_healthz():
    assert client.get("/healthz").json() == {"ok": True}
'''

SETTINGS_PY = '''"""Runtime settings, read once at import."""
import os

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///./invoices.db")
PDF_RENDERER = os.environ.get("PDF_RENDERER", "weasyprint")
SMTP_HOST = os.environ.get("SMTP_HOST", "localhost")
RATE_LIMIT_PER_MINUTE = int(os.environ.get("RATE_LIMIT_PER_MINUTE", "120"))
'''


def invoices(root="/work/invoice-api"):
    return Project(root, {
        "requirements.txt": "fastapi==0.115.6\nsqlmodel==0.0.22\nuvicorn==0.32.1\nhttpx==0.28.1\npytest==8.3.4\n",
        "pytest.ini": "[pytest]\ntestpaths = tests\naddopts = -ra\n",
        "app/__init__.py": "",
        "app/main.py": MAIN_PY,
        "app/models.py": MODELS_PY,
        "app/db.py": DB_PY,
        "app/settings.py": SETTINGS_PY,
        "tests/__init__.py": "",
        "tests/test_invoices.py": TEST_INVOICES_PY,
        "README.md": "# invoice-api\n\nSmall FastAPI service that issues invoices.\n\nRun `uvicorn app.main:app --reload`, test with `pytest`.\n",
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY app app\nCMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\"]\n",
    }, remote="git@github.com:acme/invoice-api.git")


# ----------------------------------------------------------------------------- typescript: dashboard

FORMAT_TS = '''export function formatCurrency(value: number, currency = "EUR", locale = "de-DE"): string {
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(value);
}

export function formatPercent(ratio: number, digits = 1): string {
  return `${(ratio * 100).toFixed(digits)} %`;
}

export function compactNumber(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (n >= 1_000) return `${(n / 1_000).toFixed(1)}k`;
  return String(n);
}
'''

FORMAT_TEST_TS = '''import { describe, expect, it } from "vitest";
import { compactNumber, formatCurrency, formatPercent } from "./format";

describe("format", () => {
  it("formats euros", () => {
    expect(formatCurrency(1234.5)).toBe("1.234,50 €");
  });
  it("formats percent", () => {
    expect(formatPercent(0.256)).toBe("25.6 %");
  });
  it("compacts thousands", () => {
    expect(compactNumber(999_999)).toBe("1000.0k");
    expect(compactNumber(1_250_000)).toBe("1.3M");
  });
});
'''

CHART_TSX = '''import { useMemo } from "react";
import { formatCurrency } from "../utils/format";

type Point = { month: string; revenue: number };

export function RevenueChart({ data }: { data: Point[] }) {
  const max = useMemo(() => Math.max(...data.map((d) => d.revenue)), [data]);
  return (
    <div className="chart">
      {data.map((d) => (
        <div key={d.month} className="bar" style={{ height: `${(d.revenue / max) * 100}%` }} title={formatCurrency(d.revenue)} />
      ))}
    </div>
  );
}
'''


def dashboard(root="/home/dev/proj-dashboard"):
    return Project(root, {
        "package.json": '{\n  "name": "revenue-dashboard",\n  "private": true,\n  "version": "1.7.0",\n  "type": "module",\n  "scripts": {\n    "dev": "vite",\n    "build": "tsc -b && vite build",\n    "test": "vitest run",\n    "lint": "eslint src"\n  },\n  "dependencies": {\n    "react": "^18.3.1",\n    "react-dom": "^18.3.1"\n  },\n  "devDependencies": {\n    "typescript": "^5.6.3",\n    "vite": "^5.4.11",\n    "vitest": "^2.1.8",\n    "eslint": "^9.15.0"\n  }\n}\n',
        "tsconfig.json": '{\n  "compilerOptions": {\n    "target": "ES2022",\n    "jsx": "react-jsx",\n    "strict": true,\n    "module": "ESNext",\n    "moduleResolution": "bundler",\n    "noEmit": true\n  },\n  "include": ["src"]\n}\n',
        "src/utils/format.ts": FORMAT_TS,
        "src/utils/format.test.ts": FORMAT_TEST_TS,
        "src/components/RevenueChart.tsx": CHART_TSX,
        "src/main.tsx": 'import { createRoot } from "react-dom/client";\nimport { App } from "./App";\n\ncreateRoot(document.getElementById("root")!).render(<App />);\n',
        "src/App.tsx": 'import { RevenueChart } from "./components/RevenueChart";\n\nexport function App() {\n  return <RevenueChart data={[]} />;\n}\n',
        "README.md": "# revenue-dashboard\n\n`npm install`, `npm run dev`, `npm test`.\n",
        "vite.config.ts": 'import { defineConfig } from "vite";\nimport react from "@vitejs/plugin-react";\n\nexport default defineConfig({ plugins: [react()] });\n',
    }, venv=False, remote="https://github.com/acme/revenue-dashboard.git", lang="ts")


# ----------------------------------------------------------------------------- go: ratelimit

LIMITER_GO = '''package ratelimit

import (
	"sync"
	"time"
)

// Limiter is a token bucket: Rate tokens per second, at most Burst stored.
type Limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func New(rate float64, burst int) *Limiter {
	return &Limiter{rate: rate, burst: float64(burst), tokens: float64(burst), now: time.Now}
}

// Allow reports whether one event may happen now.
func (l *Limiter) Allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens += float64(now.Sub(l.last).Milliseconds()/1000) * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	if l.tokens >= 1 {
		l.tokens--
		return true
	}
	return false
}
'''

LIMITER_TEST_GO = '''package ratelimit

import (
	"testing"
	"time"
)

func TestBurst(t *testing.T) {
	l := New(1, 3)
	for i := 0; i < 3; i++ {
		if !l.Allow() {
			t.Fatalf("event %d denied within burst", i)
		}
	}
	if l.Allow() {
		t.Fatal("fourth event allowed")
	}
}

func TestRefill(t *testing.T) {
	clock := time.Unix(0, 0)
	l := New(2, 1)
	l.now = func() time.Time { return clock }
	l.Allow()
	clock = clock.Add(500 * time.Millisecond)
	if !l.Allow() {
		t.Fatal("token not refilled after 500ms at 2/s")
	}
}

func TestFirstCallRefill(t *testing.T) {
	clock := time.Unix(100, 0)
	l := New(10, 5)
	l.now = func() time.Time { return clock }
	for i := 0; i < 5; i++ {
		l.Allow()
	}
	clock = clock.Add(time.Second)
	got := 0
	for l.Allow() {
		got++
	}
	if got != 5 {
		t.Fatalf("got %d events after 1s, want 5 (burst)", got)
	}
}
'''


def ratelimit(root="/home/dev/src/ratelimit"):
    return Project(root, {
        "go.mod": "module github.com/acme/ratelimit\n\ngo 1.23\n",
        "limiter.go": LIMITER_GO,
        "limiter_test.go": LIMITER_TEST_GO,
        "README.md": "# ratelimit\n\nA tiny token-bucket limiter. `go test ./...`\n",
        "Makefile": "test:\n\tgo test ./...\n\nlint:\n\tgo vet ./...\n",
    }, venv=False, remote="git@github.com:acme/ratelimit.git", lang="go")


# ----------------------------------------------------------------------------- rust: csvtool

PARSE_RS = '''/// Split one CSV record into fields, honouring double quotes.
pub fn split_record(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}
'''

LIB_RS = '''pub mod parse;

pub use parse::split_record;

/// Column index of `name` in a header record.
pub fn column(header: &str, name: &str) -> Option<usize> {
    split_record(header).iter().position(|h| h.trim() == name)
}
'''

TESTS_RS = '''use csvtool::{column, split_record};

#[test]
fn quoted_comma() {
    assert_eq!(split_record(r#"a,"b,c",d"#), vec!["a", "b,c", "d"]);
}

#[test]
fn escaped_quote() {
    assert_eq!(split_record(r#""say ""hi""",x"#), vec![r#"say "hi""#, "x"]);
}

#[test]
fn trailing_cr_is_dropped() {
    assert_eq!(split_record("a,b\\r"), vec!["a", "b"]);
}

#[test]
fn header_lookup() {
    assert_eq!(column("id, name ,email", "name"), Some(1));
}
'''


def csvtool(root="/work/csvtool"):
    return Project(root, {
        "Cargo.toml": '[package]\nname = "csvtool"\nversion = "0.3.0"\nedition = "2021"\n\n[dependencies]\n',
        "Cargo.lock": "# This file is automatically @generated by Cargo.\nversion = 3\n",
        "src/lib.rs": LIB_RS,
        "src/parse.rs": PARSE_RS,
        "tests/parse.rs": TESTS_RS,
        "README.md": "# csvtool\n\nSmall CSV helpers. `cargo test`.\n",
    }, venv=False, remote="git@github.com:acme/csvtool.git", lang="rust")


# ----------------------------------------------------------------------------- infra: deploy repo

DEPLOYMENT_YAML = '''apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkout
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: checkout}
  template:
    metadata:
      labels: {app: checkout}
    spec:
      containers:
        - name: checkout
          image: registry.acme.io/shop/checkout:1.42.0
          ports: [{containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
          resources:
            limits: {memory: 256Mi, cpu: 500m}
'''

DEPLOY_SH = '''#!/usr/bin/env bash
set -euo pipefail
ENV=${1:-staging}
kubectl --context "$ENV" apply -f k8s/
kubectl --context "$ENV" -n shop rollout status deploy/checkout --timeout=120s
'''


def platform(root="/work/platform-deploy"):
    return Project(root, {
        "k8s/deployment.yaml": DEPLOYMENT_YAML,
        "k8s/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: checkout\n  namespace: shop\nspec:\n  selector: {app: checkout}\n  ports: [{port: 80, targetPort: 8080}]\n",
        "k8s/hpa.yaml": "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: checkout\n  namespace: shop\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: checkout}\n  minReplicas: 3\n  maxReplicas: 12\n  metrics:\n    - type: Resource\n      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}\n",
        "scripts/deploy.sh": DEPLOY_SH,
        "Makefile": "lint:\n\tkubeconform -strict k8s/\n\ndeploy:\n\t./scripts/deploy.sh $(ENV)\n",
        "README.md": "# platform-deploy\n\nManifests for the shop services. CI deploys on merge to main; do not apply by hand.\n",
    }, venv=False, remote="git@github.com:acme/platform-deploy.git", lang="yaml")


# ----------------------------------------------------------------------------- node: blog api (jest)

SERVER_JS = '''const express = require("express");
const posts = require("./routes/posts");

const app = express();
app.use(express.json());
app.use("/posts", posts);
app.get("/health", (_req, res) => res.json({ status: "ok" }));

if (require.main === module) {
  app.listen(process.env.PORT || 3000);
}
module.exports = app;
'''

POSTS_JS = '''const express = require("express");
const router = express.Router();
const store = require("../store");

router.get("/", async (req, res) => {
  const page = Number(req.query.page || 1);
  const perPage = 10;
  const items = await store.list({ offset: page * perPage, limit: perPage });
  res.json({ page, items });
});

router.post("/", async (req, res) => {
  if (!req.body.title) return res.status(400).json({ error: "title required" });
  const post = await store.create(req.body);
  res.status(201).json(post);
});

module.exports = router;
'''

POSTS_TEST_JS = '''const request = require("supertest");
const app = require("../src/server");
const store = require("../src/store");

beforeEach(() => store.reset(Array.from({ length: 25 }, (_, i) => ({ id: i + 1, title: `post ${i + 1}` }))));

test("first page starts at the first post", async () => {
  const res = await request(app).get("/posts?page=1");
  expect(res.body.items[0].id).toBe(1);
});

test("third page has five posts", async () => {
  const res = await request(app).get("/posts?page=3");
  expect(res.body.items).toHaveLength(5);
});

test("rejects a post without title", async () => {
  const res = await request(app).post("/posts").send({});
  expect(res.status).toBe(400);
});
'''


def blog(root="/work/blog-api"):
    return Project(root, {
        "package.json": '{\n  "name": "blog-api",\n  "version": "2.3.1",\n  "main": "src/server.js",\n  "scripts": {\n    "start": "node src/server.js",\n    "test": "jest",\n    "lint": "eslint src test"\n  },\n  "dependencies": {\n    "express": "^4.21.1"\n  },\n  "devDependencies": {\n    "jest": "^29.7.0",\n    "supertest": "^7.0.0",\n    "eslint": "^9.15.0"\n  }\n}\n',
        "src/server.js": SERVER_JS,
        "src/routes/posts.js": POSTS_JS,
        "src/store.js": 'let posts = [];\nmodule.exports = {\n  reset: (p) => { posts = p; },\n  list: async ({ offset, limit }) => posts.slice(offset, offset + limit),\n  create: async (p) => { const post = { id: posts.length + 1, ...p }; posts.push(post); return post; },\n};\n',
        "test/posts.test.js": POSTS_TEST_JS,
        "README.md": "# blog-api\n\nExpress API for the blog. `npm test` runs jest.\n",
        ".eslintrc.json": '{ "extends": "eslint:recommended", "env": { "node": true, "jest": true } }\n',
    }, venv=False, remote="https://github.com/acme/blog-api.git", lang="js")


# ----------------------------------------------------------------------------- python: churn model

FEATURES_PY = '''import pandas as pd


def tenure_bucket(months: int) -> str:
    if months < 6:
        return "new"
    if months < 24:
        return "established"
    return "loyal"


def build_features(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    out["tenure_bucket"] = df["tenure_months"].map(tenure_bucket)
    out["spend_per_month"] = df["total_spend"] / df["tenure_months"]
    out["support_tickets"] = df["tickets_90d"].fillna(0)
    return out
'''

TRAIN_PY = '''import argparse

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from churn.features import build_features


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data/customers.csv")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    df = pd.read_csv(args.data)
    X = pd.get_dummies(build_features(df))
    y = df["churned"]
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=args.seed, stratify=y)
    model = LogisticRegression(max_iter=500).fit(Xtr, ytr)
    print(f"accuracy={model.score(Xte, yte):.3f}")


if __name__ == "__main__":
    main()
'''


def churn(root="/home/dev/proj-churn"):
    return Project(root, {
        "churn/__init__.py": "",
        "churn/features.py": FEATURES_PY,
        "train.py": TRAIN_PY,
        "tests/test_features.py": 'import pandas as pd\nfrom churn.features import build_features, tenure_bucket\n\n\ndef test_bucket():\n    assert tenure_bucket(3) == "new"\n\n\ndef test_zero_tenure():\n    df = pd.DataFrame({"tenure_months": [0], "total_spend": [0.0], "tickets_90d": [None]})\n    assert build_features(df)["spend_per_month"].iloc[0] == 0\n',
        "requirements.txt": "pandas==2.2.3\nscikit-learn==1.5.2\npytest==8.3.4\n",
        "data/customers.csv": "customer_id,tenure_months,total_spend,tickets_90d,churned\n1,12,480.0,1,0\n2,0,0.0,,1\n",
        "README.md": "# churn\n\nBaseline churn model. `python train.py --data data/customers.csv`.\n",
    }, remote="git@github.com:acme/churn.git")


# ----------------------------------------------------------------------------- python: notes CLI

NOTES_CLI_PY = '''import json
from pathlib import Path

import click

STORE = Path.home() / ".notes.json"


def load():
    return json.loads(STORE.read_text()) if STORE.exists() else []


@click.group()
def cli():
    """Tiny notes manager."""


@cli.command()
@click.argument("text")
def add(text):
    notes = load()
    notes.append({"id": len(notes) + 1, "text": text})
    STORE.write_text(json.dumps(notes))


@cli.command(name="list")
def list_():
    for n in load():
        click.echo(f"{n['id']}: {n['text']}")
'''


def notes(root="/home/dev/notes-cli"):
    return Project(root, {
        "notes/__init__.py": "",
        "notes/cli.py": NOTES_CLI_PY,
        "tests/test_cli.py": 'from click.testing import CliRunner\nfrom notes.cli import cli\n\n\ndef test_add_then_list(tmp_path, monkeypatch):\n    monkeypatch.setattr("notes.cli.STORE", tmp_path / "n.json")\n    r = CliRunner()\n    r.invoke(cli, ["add", "milk"])\n    assert "1: milk" in r.invoke(cli, ["list"]).output\n',
        "pyproject.toml": '[project]\nname = "notes-cli"\nversion = "0.1.0"\ndependencies = ["click>=8"]\n\n[project.scripts]\nnotes = "notes.cli:cli"\n',
        "README.md": "# notes-cli\n\n`notes add TEXT`, `notes list`.\n",
    }, remote="git@github.com:dev/notes-cli.git")


# ----------------------------------------------------------------------------- python: auth service (django)

AUTH_SETTINGS = '''from pathlib import Path
import os

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = os.environ.get("DEBUG", "0") == "1"
ALLOWED_HOSTS = ["auth.acme.io", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "accounts",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DB_NAME", "auth"),
        "HOST": os.environ.get("DB_HOST", "localhost"),
    }
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
SESSION_COOKIE_SECURE = True
'''

ACCOUNTS_VIEWS = '''from django.contrib.auth import authenticate, login
from django.http import JsonResponse
from django.views.decorators.http import require_POST


@require_POST
def login_view(request):
    user = authenticate(request, username=request.POST.get("username"), password=request.POST.get("password"))
    if user is None:
        return JsonResponse({"error": "invalid credentials"}, status=401)
    login(request, user)
    return JsonResponse({"ok": True})
'''


def auth_service(root="/work/auth-service"):
    return Project(root, {
        "manage.py": '#!/usr/bin/env python\nimport os, sys\n\nif __name__ == "__main__":\n    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")\n    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n',
        "config/__init__.py": "",
        "config/settings.py": AUTH_SETTINGS,
        "config/urls.py": 'from django.urls import path\nfrom accounts.views import login_view\n\nurlpatterns = [path("login/", login_view)]\n',
        "accounts/__init__.py": "",
        "accounts/views.py": ACCOUNTS_VIEWS,
        "accounts/tests.py": 'from django.test import TestCase\n\n\nclass LoginTests(TestCase):\n    def test_bad_password(self):\n        r = self.client.post("/login/", {"username": "a", "password": "b"})\n        self.assertEqual(r.status_code, 401)\n',
        "accounts/migrations/0001_initial.py": "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    dependencies = []\n    operations = []\n",
        "requirements.txt": "django==5.1.4\nargon2-cffi==23.1.0\npsycopg[binary]==3.2.3\n",
        "README.md": "# auth-service\n\nLogin and session service.\n",
    }, remote="git@github.com:acme/auth-service.git")


# ----------------------------------------------------------------------------- python: price scraper

FETCH_PY = '''import time

import requests

USER_AGENT = "pricewatch/0.2 (+https://acme.io/bot)"


def fetch(url: str, retries: int = 3, backoff: float = 1.5) -> str:
    for attempt in range(retries):
        r = requests.get(url, headers={"User-Agent": USER_AGENT}, timeout=10)
        if r.status_code == 200:
            return r.text
        time.sleep(backoff ** attempt)
    r.raise_for_status()
    return r.text
'''


def pricewatch(root="/home/dev/proj-pricewatch"):
    return Project(root, {
        "pricewatch/__init__.py": "",
        "pricewatch/fetch.py": FETCH_PY,
        "pricewatch/parse.py": 'import re\n\nPRICE = re.compile(r"(\\d+[.,]\\d{2})\\s*(?:€|EUR)")\n\n\ndef parse_price(html: str) -> float | None:\n    m = PRICE.search(html)\n    return float(m.group(1).replace(",", ".")) if m else None\n',
        "tests/test_parse.py": 'from pricewatch.parse import parse_price\n\n\ndef test_euro():\n    assert parse_price("<b>12,99 €</b>") == 12.99\n\n\ndef test_none():\n    assert parse_price("sold out") is None\n',
        "tests/test_fetch.py": 'import responses\nfrom pricewatch.fetch import fetch\n\n\n@responses.activate\ndef test_retry_then_ok():\n    responses.get("https://shop.example/p/1", status=503)\n    responses.get("https://shop.example/p/1", body="ok")\n    assert fetch("https://shop.example/p/1", backoff=0) == "ok"\n',
        "requirements.txt": "requests==2.32.3\nresponses==0.25.3\npytest==8.3.4\n",
        "README.md": "# pricewatch\n\nWatches product prices.\n",
    }, remote="git@github.com:dev/pricewatch.git")


# ----------------------------------------------------------------------------- docs site

def docs_site(root="/work/docs-site"):
    return Project(root, {
        "mkdocs.yml": "site_name: Acme Platform Docs\nnav:\n  - Home: index.md\n  - Getting started: getting-started.md\n  - API: api.md\ntheme:\n  name: material\n",
        "docs/index.md": "# Acme Platform\n\nWelcome. See [Getting started](getting-started.md).\n",
        "docs/getting-started.md": "# Getting started\n\n1. Install the CLI: `pip install acme-cli`\n2. Log in: `acme login`\n3. Deploy: `acme deploy`\n",
        "docs/api.md": "# API\n\n## POST /v1/deploy\n\nStarts a deployment. Returns `202` with a job id.\n",
        "requirements.txt": "mkdocs==1.6.1\nmkdocs-material==9.5.47\n",
        "README.md": "# docs-site\n\n`mkdocs serve` to preview.\n",
    }, remote="git@github.com:acme/docs-site.git")


# ============================================================================= tool output

def pytest_out(passed, failures=(), skipped=0, secs=None, errors=(), rng=None, progress=None, warnings=0):
    """pytest -q output. failures: [(nodeid, detail_lines)]."""
    n = passed + len(failures)
    secs = secs if secs is not None else (0.31 + 0.07 * n)
    dots = progress or ("." * passed + "F" * len(failures) + "s" * skipped)
    lines = [f"{dots:<80}[100%]"] if n + skipped else []
    if failures:
        lines.append("=" * 33 + " FAILURES " + "=" * 33)
        for nodeid, detail in failures:
            name = nodeid.split("::")[-1]
            lines.append(f"{'_' * 20} {name} {'_' * 20}")
            lines.append(detail.rstrip("\n"))
        lines.append("=" * 28 + " short test summary info " + "=" * 28)
        for nodeid, detail in failures:
            last = [l for l in detail.strip().split("\n") if l.startswith("E ")]
            reason = last[0][2:].strip() if last else "AssertionError"
            lines.append(f"FAILED {nodeid} - {reason}")
    parts = []
    if failures:
        parts.append(f"{len(failures)} failed")
    if passed:
        parts.append(f"{passed} passed")
    if skipped:
        parts.append(f"{skipped} skipped")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings > 1 else ''}")
    if errors:
        parts.append(f"{len(errors)} error{'s' if len(errors) > 1 else ''}")
    lines.append(f"{', '.join(parts)} in {secs:.2f}s")
    return "\n".join(lines) + "\n"


def vitest_out(passed, failures=(), file="src/utils/format.test.ts", secs=1.21):
    lines = [" RUN  v2.1.8 /home/dev/proj-dashboard", ""]
    if failures:
        lines.append(f" ❯ {file} ({passed + len(failures)} tests | {len(failures)} failed) 14ms")
        for name, detail in failures:
            lines.append(f"   × format > {name}")
            lines.append(f"     → {detail.splitlines()[0]}")
        lines += ["", "⎯⎯⎯⎯⎯⎯⎯ Failed Tests " + str(len(failures)) + " ⎯⎯⎯⎯⎯⎯⎯", ""]
        for name, detail in failures:
            lines += [f" FAIL  {file} > format > {name}", detail, ""]
        lines += [f" Test Files  1 failed (1)", f"      Tests  {len(failures)} failed | {passed} passed ({passed + len(failures)})"]
    else:
        lines.append(f" ✓ {file} ({passed} tests) 9ms")
        lines += ["", " Test Files  1 passed (1)", f"      Tests  {passed} passed ({passed})"]
    lines += ["   Start at  09:41:07", f"   Duration  {secs:.2f}s (transform 61ms, setup 0ms, collect 48ms, tests 14ms, environment 0ms, prepare 92ms)", ""]
    return "\n".join(lines)


def jest_out(passed, failures=(), file="test/posts.test.js", secs=1.8):
    lines = []
    if failures:
        lines.append(f"FAIL {file}")
        for name, detail in failures:
            lines.append(f"  ✕ {name} (12 ms)")
        lines.append("")
        for name, detail in failures:
            lines += [f"  ● {name}", "", detail, ""]
        lines += [f"Test Suites: 1 failed, 1 total", f"Tests:       {len(failures)} failed, {passed} passed, {passed + len(failures)} total"]
    else:
        lines.append(f"PASS {file}")
        lines += [f"Test Suites: 1 passed, 1 total", f"Tests:       {passed} passed, {passed} total"]
    lines += ["Snapshots:   0 total", f"Time:        {secs:.3f} s", "Ran all test suites."]
    return "\n".join(lines) + "\n"


def go_test_out(failures=(), pkg="github.com/acme/ratelimit", secs=0.012):
    if not failures:
        return f"ok  \t{pkg}\t{secs:.3f}s\n"
    lines = []
    for name, msg in failures:
        lines += [f"--- FAIL: {name} (0.00s)", f"    limiter_test.go:{40 + len(name)}: {msg}"]
    lines += ["FAIL", f"FAIL\t{pkg}\t{secs:.3f}s", "FAIL"]
    return "\n".join(lines) + "\n"


def cargo_test_out(passed, failures=(), crate="csvtool", secs=0.00):
    lines = ["   Compiling csvtool v0.3.0 (/work/csvtool)", "    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.84s",
             f"     Running tests/parse.rs (target/debug/deps/parse-3f1e0a9c2b7d6e54)", "",
             f"running {passed + len(failures)} tests"]
    for name, _ in failures:
        lines.append(f"test {name} ... FAILED")
    lines += ["test quoted_comma ... ok"] * min(passed, 1)
    if failures:
        lines += ["", "failures:", ""]
        for name, msg in failures:
            lines += [f"---- {name} stdout ----", msg, ""]
        lines += ["failures:"] + [f"    {n}" for n, _ in failures]
        lines += ["", f"test result: FAILED. {passed} passed; {len(failures)} failed; 0 ignored; 0 measured; 0 filtered out; finished in {secs:.2f}s",
                  "", "error: test failed, to rerun pass `--test parse`"]
    else:
        lines += ["", f"test result: ok. {passed} passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {secs:.2f}s"]
    return "\n".join(lines) + "\n"


UNICODE_FAIL = '''
    def test_unicode_identifiers():
        toks = list(Scanner("let größe = 3").tokens())
>       assert toks[1].kind is TokenKind.IDENT
E       AssertionError: assert <TokenKind.PUNCT: 4> is <TokenKind.IDENT: 1>
E        +  where <TokenKind.PUNCT: 4> = Token(kind=<TokenKind.PUNCT: 4>, text='g', line=1).kind

tests/test_scanner.py:19: AssertionError'''

VAT_FAIL = '''
    def test_create_invoice_rounds_vat():
        r = client.post("/invoices", json={"customer": "ACME", "net": "10.05"})
        assert r.status_code == 201
>       assert Decimal(r.json()["vat"]) == Decimal("1.91")
E       AssertionError: assert Decimal('1.90') == Decimal('1.91')
E        +  where Decimal('1.90') = Decimal('1.90')

tests/test_invoices.py:13: AssertionError'''
