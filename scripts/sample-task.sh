#!/usr/bin/env bash
# A small task done the way a coding agent does it, by running commands: write a project, run
# its test (it fails), fix the code, run the test again, check a local service, tidy up.
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
work=$(mktemp -d /tmp/agentsight-demo.XXXXXX)
cd "$work"

# the agent's model: a local scripted server speaking the OpenAI API over real TLS
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj '/CN=demo CA' 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost' 2>/dev/null
printf 'subjectAltName=DNS:localhost' > ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile ext 2>/dev/null
"$py" "$here/../tests/fixtures/llm_server.py" srv.pem srv.key > port &
model=$!
while [ ! -s port ]; do sleep 0.05; done
curl -s --cacert ca.pem -H "Authorization: Bearer sk-demo-0123456789abcdefghijklmnop" -H 'content-type: application/json' \
  -d '{"model":"gpt-4o","stream":true,"messages":[{"role":"system","content":"You are a careful coding agent."},{"role":"user","content":"Fix calc.add and run the tests."}]}' \
  "https://localhost:$(cat port)/v1/chat/completions" > /dev/null
kill "$model"

mkdir -p calc
printf 'def add(a, b):\n    return a - b\n' > calc/__init__.py
printf 'from calc import add\nassert add(2, 2) == 4, "add(2, 2) != 4"\nprint("tests pass")\n' > test_calc.py

"$py" test_calc.py 2>/dev/null || echo "test failed; fixing calc/__init__.py"
sed -i 's/a - b/a + b/' calc/__init__.py
"$py" test_calc.py

# a local service the task checks on
"$py" - <<'PY'
import socket, threading
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
port = server.getsockname()[1]
threading.Thread(target=server.accept, daemon=True).start()
socket.create_connection(("127.0.0.1", port)).close()
print(f"service on 127.0.0.1:{port} is up")
PY

mv calc/__init__.py calc/core.py
cd / && rm -rf "$work"
