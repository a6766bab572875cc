-- `me` with a valid access token, tokens taken in turn from the file given as argument.
dofile(os.getenv("AUTHQL_WRK_DIR") .. "/common.lua")

local tokens, n = {}, 0
local body = '{"query":"{ me { id username email } }"}'

function init(args)
  tokens = read_lines(args[1])
end

function request()
  n = n + 1
  local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] }
  return wrk.format("POST", "/graphql", headers, body)
end

function response(status, headers, body)
  count_errors(status, body)
end
