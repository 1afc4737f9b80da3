-- wrk script: DDI root polls (GET /{tenant}/controller/v1/{id}) over many controller ids.
--
--   wrk -t1 -c64 -d15s --latency -s bench/poll.lua http://127.0.0.1:60053 -- N [tenant] [prefix] [start] [width] [mode] [token] [close]
--
--   N       number of distinct controller ids (default 1000)
--   tenant  default DEFAULT
--   prefix  default "dev-": ids dev-00001 .. (the layout of `manage.py seed_devices`)
--   start   first id number (default 1)
--   width   zero padding of the number (default 5)
--   mode    "poll" (default): visit the N ids round-robin, the steady state of a fleet;
--           "register": every request uses a new id (start, start+1, ...), each a first contact
--           that registers a device (N is ignored);
--           "path": GET the path given as prefix (e.g. /healthz), a baseline to compare with
--   token   optional TargetToken; "{id}" is replaced by the controller id ("" for none)
--   close   "close": send "Connection: close", a new TCP connection per request, as devices that
--           poll every minute do (default: keep-alive, every connection reused)
--
-- Each wrk thread starts at a different offset (poll) or a different id block (register).
-- done() prints per-status counts and one JSON line prefixed "WRK_JSON ".
-- Only scheme/host/port of the URL given to wrk are used.

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local n, tenant, prefix, start, width, mode, token
local counter = 0
statuses = {}  -- global: done() reads it from every thread with thread:get()

function init(args)
   n = tonumber(args[1] or "1000")
   tenant = args[2] or "DEFAULT"
   prefix = args[3] or "dev-"
   start = tonumber(args[4] or "1")
   width = tonumber(args[5] or "5")
   mode = args[6] or "poll"
   token = args[7]
   if token == "" then token = nil end
   if args[8] == "close" then wrk.headers["Connection"] = "close" end
   if mode == "register" then
      -- disjoint blocks of a billion ids per thread
      counter = (tid or 0) * 1000000000
   else
      counter = ((tid or 0) * 7919) % n
   end
   wrk.headers["Accept"] = "application/hal+json"
end

local function controller_id()
   local number
   if mode == "register" then
      number = start + counter
   else
      number = (counter % n) + start
   end
   counter = counter + 1
   return prefix .. string.format("%0" .. width .. "d", number)
end

function request()
   if mode == "path" then
      return wrk.format("GET", prefix)
   end
   local id = controller_id()
   local path = "/" .. tenant .. "/controller/v1/" .. id
   if token then
      local value = string.gsub(token, "{id}", id)
      return wrk.format("GET", path, { ["Authorization"] = "TargetToken " .. value })
   end
   return wrk.format("GET", path)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local total = {}
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      if s then
         for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
      end
   end
   local st = {}
   for k, v in pairs(total) do table.insert(st, string.format('"%s": %d', k, v)) end
   local secs = summary.duration / 1e6
   local errs = summary.errors
   io.write(string.format(
      'WRK_JSON {"tool": "wrk", "script": "poll.lua", "mode": "%s", "requests": %d, "duration_s": %.3f, ' ..
      '"rps": %.2f, "bytes": %d, "status": {%s}, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, ' ..
      '"latency_ms": {"mean": %.3f, "p50": %.3f, "p90": %.3f, "p99": %.3f, "max": %.3f}}\n',
      mode, summary.requests, secs, summary.requests / secs, summary.bytes,
      table.concat(st, ", "), errs.connect, errs.read, errs.write, errs.timeout, errs.status,
      latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000))
end
