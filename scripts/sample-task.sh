#!/usr/bin/env bash
# A small task done the way a coding agent does it, by running commands: write a project, run
# its test (it fails), fix the code, run the test again, check a local service, tidy up.
set -u
py=/usr/bin/python3
[ -x "$py" ] || py=python3
work=$(mktemp -d /tmp/agentsight-demo.XXXXXX)
cd "$work"

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
