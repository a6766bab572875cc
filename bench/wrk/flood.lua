-- One hostile client: batches of 10 operations, each operation 10 aliased signUps (fresh
-- names) or 10 aliased wrong-password logins, as fast as the service answers.
dofile(os.getenv("AUTHQL_WRK_DIR") .. "/common.lua")

local n, prefix = 0, ""

function init(args)
  prefix = "f" .. os.time() .. "t" .. id .. "n"
end

local function sign_ups()
  local fields = {}
  for i = 1, 10 do
    n = n + 1
    local name = prefix .. n
    table.insert(fields, string.format(
      's%d: signUp(input: {username: \\"%s\\", email: \\"%s@flood.example\\", ' ..
      'password: \\"flood-passphrase-1\\"})', i, name, name))
  end
  return '{"query":"mutation { ' .. table.concat(fields, " ") .. ' }"}'
end

local function logins()
  local fields = {}
  for i = 1, 10 do
    n = n + 1
    table.insert(fields, string.format(
      'l%d: login(input: {usernameOrEmail: \\"nobody%d\\", password: \\"a-wrong-password\\"}) ' ..
      '{ accessToken }', i, n % 50))
  end
  return '{"query":"mutation { ' .. table.concat(fields, " ") .. ' }"}'
end

function request()
  local ops = {}
  for i = 1, 10 do
    table.insert(ops, (i % 2 == 0) and sign_ups() or logins())
  end
  return wrk.format("POST", "/graphql", json_headers, "[" .. table.concat(ops, ",") .. "]")
end

function response(status, headers, body)
  -- Every answer of a flood is refused or wrong; only transport failures count here.
  if status ~= 200 then
    errors = errors + 1
  end
end
