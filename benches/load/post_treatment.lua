-- wrk script for `POST /treatments` (used by benches/load/load.sh).
--
-- Each request records a cheeks-only treatment (1.0 mm) for a random seeded patient, as a
-- signed-in practitioner's browser would: the session and CSRF cookies, and the form's CSRF token.
-- Environment: LOAD_COOKIE (the Cookie header), LOAD_CSRF (the form token), LOAD_TREATED_AT
-- (YYYY-MM-DDTHH:MM, clinic time, in the recent past), LOAD_PATIENTS (patient ids are 1..N).
-- At the end it prints one line, `statuses: 303=N ...`, which load.sh checks (every answer must be
-- the 303 to the new treatment's page).

local cookie = os.getenv("LOAD_COOKIE") or ""
local csrf = os.getenv("LOAD_CSRF") or ""
local treated_at = os.getenv("LOAD_TREATED_AT") or ""
local patients = tonumber(os.getenv("LOAD_PATIENTS") or "1") or 1

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local prefix = "csrf_token=" .. urlencode(csrf) .. "&treated_at=" .. urlencode(treated_at)
  .. "&area_0=cheeks&depth_0=1.0&patient_id="

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = cookie

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  math.randomseed(os.time() * 100 + id)
end

function request()
  return wrk.format(nil, nil, nil, prefix .. math.random(1, patients))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for status, n in pairs(counts) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, status .. "=" .. n)
  end
  table.sort(parts)
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
