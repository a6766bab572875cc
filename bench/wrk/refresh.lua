-- `refresh` rotation: each connection's answer carries the next refresh token, which goes
-- back into this thread's pool, so every token is presented exactly once.
dofile(os.getenv("AUTHQL_WRK_DIR") .. "/common.lua")

local pool = {}
local query = '{"query":"mutation($t: String!) { refresh(refreshToken: $t) { refreshToken } }",' ..
  '"variables":{"t":"%s"}}'

function init(args)
  local all = read_lines(args[1])
  local threads = tonumber(args[2])
  local me = id
  for i, token in ipairs(all) do
    if (i - 1) % threads == me then table.insert(pool, token) end
  end
end

function request()
  local token = table.remove(pool)
  if token == nil then
    -- Should not happen: every connection holds at most one token in flight.
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", "/graphql", json_headers, string.format(query, token))
end

function response(status, headers, body)
  count_errors(status, body)
  local next = string.match(body, '"refreshToken":"([^"]+)"')
  if next then table.insert(pool, next) end
end
