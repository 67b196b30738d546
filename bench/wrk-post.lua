-- wrk script: POST one Connect JSON body to every request.
-- Usage: wrk ... -s bench/wrk-post.lua URL -- BODY_FILE NAMESPACE
function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["containerd-namespace"] = args[2]
end
