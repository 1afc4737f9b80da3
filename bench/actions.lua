-- wrk script: the DDI requests of a device that is updating, over many devices.
--
--   wrk -t1 -c16 -d10s --latency -s bench/actions.lua http://127.0.0.1:60053 -- MODE TARGETS [tenant] [token]
--
--   MODE     deployment  GET  .../deploymentBase/{action}
--            feedback    POST .../deploymentBase/{action}/feedback  (a "proceeding" progress report)
--            download    GET  .../softwaremodules/{software}/artifacts/{filename}  (whole file)
--            configdata  PUT  .../configData  (merge of the device's identity attributes)
--   TARGETS  a file with one device per line: "<controller id> <action id> <software id> <filename>"
--   tenant   default DEFAULT
--   token    optional TargetToken; "{id}" is replaced by the controller id
--
-- Devices are visited round-robin. done() prints one JSON line prefixed "WRK_JSON ".

local threads = {}
local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
   table.insert(threads, thread)
end

local mode, tenant, token
local targets = {}
local counter = 0
statuses = {}

local FEEDBACK = '{"id": "%s", "time": "20250101T000000", "status": {"execution": "proceeding", ' ..
   '"result": {"finished": "none", "progress": {"cnt": 1, "of": 3}}, "details": ["bench progress"]}}'
local CONFIGDATA = '{"mode": "merge", "data": {"hw_boardname": "default", "hw_revision": "default", ' ..
   '"sw_version": "1.0.0"}}'

function init(args)
   mode = args[1] or "deployment"
   local file = assert(io.open(args[2], "r"), "cannot open the targets file " .. tostring(args[2]))
   for line in file:lines() do
      local id, action, software, filename = line:match("^(%S+)%s+(%S+)%s+(%S+)%s+(%S+)")
      if id then
         table.insert(targets, { id = id, action = action, software = software, filename = filename })
      end
   end
   file:close()
   assert(#targets > 0, "the targets file is empty")
   tenant = args[3] or "DEFAULT"
   token = args[4]
   if token == "" then token = nil end
   counter = ((tid or 0) * 7919) % #targets
   wrk.headers["Accept"] = "application/json"
end

function request()
   local t = targets[(counter % #targets) + 1]
   counter = counter + 1
   local base = "/" .. tenant .. "/controller/v1/" .. t.id
   local headers = {}
   if token then
      headers["Authorization"] = "TargetToken " .. string.gsub(token, "{id}", t.id)
   end
   if mode == "deployment" then
      return wrk.format("GET", base .. "/deploymentBase/" .. t.action, headers)
   elseif mode == "feedback" then
      headers["Content-Type"] = "application/json"
      local body = string.format(FEEDBACK, t.action)
      return wrk.format("POST", base .. "/deploymentBase/" .. t.action .. "/feedback", headers, body)
   elseif mode == "download" then
      headers["Accept"] = "application/octet-stream"
      return wrk.format("GET", base .. "/softwaremodules/" .. t.software .. "/artifacts/" .. t.filename, headers)
   elseif mode == "configdata" then
      headers["Content-Type"] = "application/json"
      return wrk.format("PUT", base .. "/configData", headers, CONFIGDATA)
   end
   error("unknown mode " .. mode)
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
      'WRK_JSON {"tool": "wrk", "script": "actions.lua", "mode": "%s", "requests": %d, "duration_s": %.3f, ' ..
      '"rps": %.2f, "bytes": %d, "status": {%s}, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, ' ..
      '"latency_ms": {"mean": %.3f, "p50": %.3f, "p90": %.3f, "p99": %.3f, "max": %.3f}}\n',
      mode, summary.requests, secs, summary.requests / secs, summary.bytes,
      table.concat(st, ", "), errs.connect, errs.read, errs.write, errs.timeout, errs.status,
      latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000))
end
