-- wrk script of `manage.py bench`: POSTs JSON bodies read from a file, one body per line,
-- in turn, with a bearer token; prints one machine-readable line at the end.
--   wrk -t1 -c4 -d15s -s scripts/bench/post.lua http://127.0.0.1:8765 -- BODIES PATH TOKEN
local bodies, count, turn = {}, 0, 0
local path, headers

function init(args)
  for line in io.lines(args[1]) do
    count = count + 1
    bodies[count] = line
  end
  path = args[2]
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. args[3] }
  turn = math.random(count)
end

function request()
  turn = turn % count + 1
  return wrk.format("POST", path, headers, bodies[turn])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "non_2xx": %d, "socket_errors": %d, "seconds": %.3f, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
