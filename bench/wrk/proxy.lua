-- One fixed request per connection, repeated: wrk builds it once (no
-- `request` function), so the load generator stays cheap.
-- Arguments after `--`, as key=value:
--   target=URL     request-target: an absolute URL (forward proxy) or a path
--   host=H:P       Host header (the origin's authority, as clients send it)
--   auth=VALUE     Proxy-Authorization value; absent: no credentials
--   close=1        send Connection: close (a new connection per request)
-- done() prints one "BENCH {json}" line that bench/run.py reads.

function init(args)
    local opt = {}
    for _, a in ipairs(args) do
        local k, v = a:match("^([%w_]+)=(.*)$")
        if k then opt[k] = v end
    end
    wrk.method = "GET"
    wrk.path = opt.target or "/"
    if opt.host then wrk.headers["Host"] = opt.host end
    if opt.auth then wrk.headers["Proxy-Authorization"] = opt.auth end
    if opt.close == "1" then wrk.headers["Connection"] = "close" end
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,' ..
        '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
