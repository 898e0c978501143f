-- Every request carries a different valid user, so each one is a credential
-- cache miss and costs the proxy one bcrypt verification.
-- Arguments after `--`, as key=value:
--   target=URL   absolute URL requested through the proxy
--   host=H:P     Host header
--   users=FILE   one Proxy-Authorization value per line ("Basic ...")
--   first=N      1-based line to start from (lines before it are skipped)
-- done() prints the same "BENCH {json}" line as proxy.lua.

local values = {}
local next_i = 1

function init(args)
    local opt = {}
    for _, a in ipairs(args) do
        local k, v = a:match("^([%w_]+)=(.*)$")
        if k then opt[k] = v end
    end
    for line in io.lines(opt.users) do values[#values + 1] = line end
    next_i = tonumber(opt.first or "1")
    wrk.method = "GET"
    wrk.path = opt.target
    wrk.headers["Host"] = opt.host
end

function request()
    local v = values[next_i]
    next_i = next_i + 1
    if next_i > #values then next_i = 1 end
    wrk.headers["Proxy-Authorization"] = v
    return wrk.format()
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
