-- wrk script for loadtest/layer.sh: one run that alternates between routes in short phases
-- (PHASE_MS, default 200), so that the swings of a shared machine's speed, which last seconds,
-- hit every route alike. For each phase it records the route, its requests, its wall time
-- and the server's CPU time (nanoseconds, from /proc/<SERVER_PID>/schedstat: the server runs on
-- one thread). At the end it prints one line per phase:
--
--   phase <route> <requests> <wall ns> <server cpu ns>
--
-- and loadtest/layer.sh turns them into throughput, CPU per request and per-pair ratios.
-- Needs wrk's LuaJIT (for `ffi`); one wrk thread (-t1).

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } timespec_t;
  int clock_gettime(int clk_id, timespec_t *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("timespec_t")

local function now_ns()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end

local function server_cpu_ns(pid)
  local f = io.open("/proc/" .. pid .. "/schedstat", "r")
  if not f then return 0 end
  local line = f:read("*l")
  f:close()
  return tonumber(line:match("^(%d+)")) or 0
end

local routes = {}
for r in (os.getenv("ROUTES") or "/open /protected"):gmatch("%S+") do
  routes[#routes + 1] = r
end
local phase_ns = (tonumber(os.getenv("PHASE_MS")) or 200) * 1e6
local pid = os.getenv("SERVER_PID")

-- Per-thread state (wrk runs this file again in each thread).
phases = {} -- global: read by done() through thread:get
local route_index, count, started, cpu_started, n = 1, 0, nil, nil, 0
local requests = {}
for i, r in ipairs(routes) do
  requests[i] = wrk.format(nil, r)
end

local function close_phase(t)
  local cpu = server_cpu_ns(pid)
  phases[#phases + 1] = string.format("phase %s %d %.0f %.0f", routes[route_index], count, t - started,
    cpu - cpu_started)
  route_index = route_index % #routes + 1
  count, started, cpu_started = 0, t, cpu
end

function request()
  n = n + 1
  -- The clock is read every 16 requests only: the phase boundary moves by a few microseconds.
  if started == nil then
    started, cpu_started = now_ns(), server_cpu_ns(pid)
  elseif n % 16 == 0 then
    local t = now_ns()
    if t - started >= phase_ns then close_phase(t) end
  end
  count = count + 1
  return requests[route_index]
end


local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, reqs)
  io.write(string.format("errors %d %d\n", summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, thread in ipairs(threads) do
    local text = thread:get("phases")
    if text then
      for i = 1, #text do io.write(text[i], "\n") end
    end
  end
end
