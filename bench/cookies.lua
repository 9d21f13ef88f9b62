-- Send pre-created session cookies with wrk, without creating any session.
--
--   wrk -t2 -c50 -d5s -s bench/cookies.lua URL -- THREADS COOKIE [COOKIE ...]
--
-- Each COOKIE is a whole Cookie header value ("session_id=..."). The ids are
-- dealt out to wrk's THREADS threads (id i to thread i mod THREADS); each
-- thread sends its ids in turn, one per request, so with as many ids as
-- connections, concurrent requests rarely share a session. A thread left
-- without an id (fewer ids than threads) shares one. Requests are formatted
-- once, in init, so the per-request cost in wrk is a table lookup.

local threads_set_up = 0

function setup(thread)
  threads_set_up = threads_set_up + 1
  thread:set("thread_index", threads_set_up)
end

local requests, turn = {}, 0

function init(args)
  local threads, mine = tonumber(args[1]), {}
  for i = 2, #args do
    if (i - 2) % threads == thread_index - 1 then
      mine[#mine + 1] = args[i]
    end
  end
  if #mine == 0 then
    mine[1] = args[2 + (thread_index - 1) % (#args - 1)]
  end
  for i, cookie in ipairs(mine) do
    local headers = {}
    for name, value in pairs(wrk.headers) do
      headers[name] = value
    end
    headers["Cookie"] = cookie
    requests[i] = wrk.format(nil, nil, headers)
  end
end

function request()
  turn = turn % #requests + 1
  return requests[turn]
end
