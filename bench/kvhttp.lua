-- kvhttp.lua: wrk's request mix for the kvhttp row (bench/run.sh): of
-- every 10 requests, 8 GET /k/keyN, 1 PUT /k/keyN (a 64-byte value) and
-- 1 GET /incr/ctrN, N cycling over 100 keys that run.sh seeds first, so
-- that every answer is a 200. The requests are built once, in init.
local reqs, i = {}, 0

function init(args)
  local value = string.rep("v", 64)
  for n = 0, 999 do
    local k = n % 100
    local m = n % 10
    if m == 3 then
      reqs[n + 1] = wrk.format("PUT", "/k/key" .. k, nil, value)
    elseif m == 7 then
      reqs[n + 1] = wrk.format("GET", "/incr/ctr" .. k)
    else
      reqs[n + 1] = wrk.format("GET", "/k/key" .. k)
    end
  end
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
