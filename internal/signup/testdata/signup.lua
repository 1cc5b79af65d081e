-- wrk script for BenchmarkBinarySignup (signup_bench_test.go): every request
-- is a double opt-in signup through POST /api/subscribe with an address no
-- other request used, so each one creates a supporter, a consent row and a
-- confirmation email. Run as
--   wrk -t2 -c8 -d10s --latency -s internal/signup/testdata/signup.lua http://127.0.0.1:8090/api/subscribe
-- against a server whose rate limiter is off (Settings > Application >
-- Rate limiting) and whose CRM_CONFIRMATIONS_PER_DAY is 0 (no daily cap).
-- done() prints how many answers were not 202 Accepted.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  n = 0
  bad = 0
  -- A run tag keeps addresses unique across runs on the same data dir.
  run = args[1] or tostring(os.time())
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  local email = string.format("wrk-%s-%d-%d@example.org", run, tid, n)
  local body = '{"email":"' .. email .. '","first_name":"Bench","last_name":"Mark","topics":["newsletter","events"],"consent":true}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 202 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + t:get("bad")
  end
  io.write(string.format("not-202: %d\n", total))
end
