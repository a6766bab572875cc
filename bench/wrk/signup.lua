-- `signUp` with a fresh username and address every time.
dofile(os.getenv("AUTHQL_WRK_DIR") .. "/common.lua")

local n, prefix = 0, ""

function init(args)
  -- A fresh prefix per run (warm-up and measurement are separate runs).
  prefix = args[1] .. os.time() .. "t" .. id .. "n"
end

function request()
  n = n + 1
  local name = prefix .. n
  local body = string.format(
    '{"query":"mutation($i: SignUpInput!) { signUp(input: $i) }",' ..
    '"variables":{"i":{"username":"%s","email":"%s@bench.example","password":"bench-passphrase-1"}}}',
    name, name)
  return wrk.format("POST", "/graphql", json_headers, body)
end

function response(status, headers, body)
  count_errors(status, body)
end
