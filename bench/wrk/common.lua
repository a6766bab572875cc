-- Shared by the authql wrk scripts: counts GraphQL answers that carry errors, so a run
-- that "succeeds" with error bodies is not mistaken for a fast one.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

errors = 0

function count_errors(status, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if errors == 1 then
      io.stderr:write("first error answer: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + (t:get("errors") or 0)
  end
  io.write(string.format("graphql_errors: %d\n", total))
end

function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then table.insert(lines, line) end
  end
  return lines
end

json_headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
