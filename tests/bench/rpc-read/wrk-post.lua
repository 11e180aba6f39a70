-- wrk script of the RPC read benchmark: every request is the same JSON-RPC POST, its body
-- taken from the BODY environment variable (run.sh writes one body per method).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
