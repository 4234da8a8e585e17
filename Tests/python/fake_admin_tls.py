"""One admin call to a cloud fake that serves HTTPS only (the Azure Key Vault fake).

stdin: {"url": "https://127.0.0.1:PORT", "ca_file", "method", "path", "body": str|None}
stdout: the answer's body; exits 1 (status and body on stderr) when it is not 2xx.
"""
import json
import ssl
import sys
import urllib.error
import urllib.request


def main() -> None:
    request = json.load(sys.stdin)
    context = ssl.create_default_context(cafile=request["ca_file"])
    body = request.get("body")
    call = urllib.request.Request(request["url"] + request["path"], method=request["method"],
                                  data=body.encode() if body is not None else None,
                                  headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(call, context=context, timeout=30) as answer:
            sys.stdout.buffer.write(answer.read())
    except urllib.error.HTTPError as error:
        sys.stderr.write(f"{error.code}: {error.read().decode(errors='replace')}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
