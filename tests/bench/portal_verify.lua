-- SPDX-License-Identifier: GPL-2.0-or-later
-- wrk script for tests/bench/portal_bench.sh: every request is one TOTP
-- verification, POST /api/v1/login with the email, a current code and a
-- session length, for another user each time (a code verifies once).
-- Environment: PB_CODES (a "email<TAB>code" file), PB_COOKIE and PB_CSRF
-- (an anonymous cookie and its CSRF token, fetched before the run).
-- Counts the replies by status; prints "verify_ok=N other=N" at the end.

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   nthreads = tonumber(os.getenv("PB_THREADS") or "1")
   users, pos = {}, 1
   local i = 0
   for line in io.lines(os.getenv("PB_CODES")) do
      if i % nthreads == id then
         local email, code = line:match("^(%S+)\t(%d+)$")
         users[#users + 1] = string.format(
            '{"email":"%s","code":"%s","duration":14400}', email, code)
      end
      i = i + 1
   end
   headers = {
      ["Content-Type"] = "application/json",
      ["Cookie"] = "__Host-wgotp=" .. os.getenv("PB_COOKIE"),
      ["X-CSRF-Token"] = os.getenv("PB_CSRF"),
   }
   ok, other, exhausted = 0, 0, 0
end

function request()
   local body = users[pos]
   if body == nil then
      -- every user used: replays from here on (refused, counted apart)
      pos, exhausted = 1, exhausted + 1
      body = users[pos]
   end
   pos = pos + 1
   return wrk.format("POST", "/api/v1/login", headers, body)
end

function response(status, hdrs, body)
   if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
   local o, x, e = 0, 0, 0
   for _, t in ipairs(threads) do
      o = o + t:get("ok")
      x = x + t:get("other")
      e = e + t:get("exhausted")
   end
   io.write(string.format("portal: verify_ok=%d other=%d wrapped=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
      o, x, e, o / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
