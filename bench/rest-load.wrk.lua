-- wrk script for bench/rest-load.mjs: GET /torrent/<hash> over the hashes listed in the file given after --,
-- and one JSON line of results (latencies in ms).
local hashes = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do hashes[#hashes + 1] = line end
end
function request()
  i = i + 1
  return wrk.format("GET", "/torrent/" .. hashes[(i % #hashes) + 1])
end
function done(summary, latency, requests)
  io.write(string.format('{"requests":%d,"req_per_s":%.0f,"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"errors":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
