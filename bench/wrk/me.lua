-- `me` with a valid access token, tokens taken in turn from the file given as the first
-- argument; the request body (the document, as bench.py's ME_DOC) is the second file.
dofile(os.getenv("AUTHQL_WRK_DIR") .. "/common.lua")

local tokens, n = {}, 0
local body

function init(args)
  tokens = read_lines(args[1])
  local f = assert(io.open(args[2], "r"))
  body = f:read("*a")
  f:close()
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
