-- `login` by username, users taken in turn from the file given as argument.
dofile(os.getenv("AUTHQL_WRK_DIR") .. "/common.lua")

local users, n = {}, 0
local password

function init(args)
  users = read_lines(args[1])
  password = args[2]
end

function request()
  n = n + 1
  local user = users[(n % #users) + 1]
  local body = string.format(
    '{"query":"mutation($i: LoginInput!) { login(input: $i) { accessToken } }",' ..
    '"variables":{"i":{"usernameOrEmail":"%s","password":"%s"}}}', user, password)
  return wrk.format("POST", "/graphql", json_headers, body)
end

function response(status, headers, body)
  count_errors(status, body)
end
