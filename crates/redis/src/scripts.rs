//! The Lua scripts: each engine step that must be atomic runs as one script
//! on the Redis that holds the channel (all its keys share a hash tag).
//!
//! Offsets: the position hash holds `e` (epoch) and `s` (top offset). A
//! missing hash means the position was lost (expired, Redis restarted
//! without persistence): the caller's fresh epoch is taken, offsets restart
//! from 1 and any publications left in the stream are dropped, so a stream
//! never mixes two epochs. Stream entry ids are `<offset>-0`.
//!
//! Trimming: the stream is capped with `XADD MAXLEN ~` (whole listpack
//! nodes dropped, far cheaper than exact trimming, which walks the oldest
//! node on every append), so it may hold a few more entries than the
//! history size. The publish script keeps that size in the position hash
//! (`n`) and the history script never reads past the newest `n` offsets,
//! so clients see exactly `history_size` publications, as with exact
//! trimming.

use std::sync::LazyLock;

use redis::Script;

/// Publish: idempotency check, next offset, append to the capped stream with
/// TTL (remembering the history size in the position hash), publish to the channel's pub/sub with offset and epoch, remember the
/// idempotency result.
///
/// KEYS: stream, meta, idempotency result.
/// ARGV: body, history size (0 = no history), history ttl ms, meta ttl ms
/// (0 = none), epoch to use if the position is lost, pub/sub channel,
/// publish command (`publish`/`spublish`), idempotency ttl ms (0 = no key).
/// Returns `{offset, epoch, suppressed}` (offset as a string).
pub(crate) static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local idem_ttl = ARGV[8]
if idem_ttl ~= '0' then
  local r = redis.call('hmget', KEYS[3], 'o', 'e')
  if r[1] then
    return {r[1], r[2] or '', 1}
  end
end
local offset = '0'
local epoch = ''
if ARGV[2] ~= '0' then
  local m = redis.call('hmget', KEYS[2], 'e', 'n')
  epoch = m[1]
  if not epoch then
    epoch = ARGV[5]
    redis.call('del', KEYS[1])
    redis.call('hset', KEYS[2], 'e', epoch, 's', 0, 'n', ARGV[2])
  elseif m[2] ~= ARGV[2] then
    redis.call('hset', KEYS[2], 'n', ARGV[2])
  end
  offset = tostring(redis.call('hincrby', KEYS[2], 's', 1))
  local meta_ttl = tonumber(ARGV[4])
  if meta_ttl > 0 then
    local left = redis.call('pttl', KEYS[2])
    if left < meta_ttl then
      redis.call('pexpire', KEYS[2], meta_ttl)
    end
  end
  redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[2], offset .. '-0', 'd', ARGV[1])
  redis.call('pexpire', KEYS[1], ARGV[3])
end
if ARGV[6] ~= '' then
  redis.call(ARGV[7], ARGV[6], 'p' .. offset .. ':' .. epoch .. ':' .. ARGV[1])
end
if idem_ttl ~= '0' then
  redis.call('hset', KEYS[3], 'o', offset, 'e', epoch)
  redis.call('pexpire', KEYS[3], idem_ttl)
end
return {offset, epoch, 0}
"#,
    )
});

/// History: the position (created with the given epoch if lost) and a range
/// of the stream, bounded to the newest `n` offsets (the history size the
/// last publish gave).
///
/// KEYS: stream, meta.
/// ARGV: epoch to use if the position is lost, meta ttl ms (0 = none),
/// `since` epoch (`''` = no check), mode (`none`: position only, `fwd`,
/// `rev`), start id, end id, count (`''` = all).
/// Returns `{top offset, epoch, entries}` or `{top, epoch, 'mismatch'}`.
pub(crate) static HISTORY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local epoch = redis.call('hget', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('del', KEYS[1])
  redis.call('hset', KEYS[2], 'e', epoch, 's', 0)
  local meta_ttl = tonumber(ARGV[2])
  if meta_ttl > 0 then
    redis.call('pexpire', KEYS[2], meta_ttl)
  end
end
local m = redis.call('hmget', KEYS[2], 's', 'n')
local top = m[1] or '0'
if ARGV[3] ~= '' and ARGV[3] ~= epoch then
  return {top, epoch, 'mismatch'}
end
-- The oldest offset within the history size: the stream may hold older
-- entries (approximate trimming), never shown.
local low = nil
if m[2] then
  local l = tonumber(top) - tonumber(m[2]) + 1
  if l > 1 then
    low = l
  end
end
local function bound(b)
  if low and (b == '-' or tonumber(b) < low) then
    return tostring(low)
  end
  return b
end
local entries = {}
local mode = ARGV[4]
if mode == 'fwd' then
  local first = bound(ARGV[5])
  if ARGV[7] ~= '' then
    entries = redis.call('xrange', KEYS[1], first, ARGV[6], 'COUNT', ARGV[7])
  else
    entries = redis.call('xrange', KEYS[1], first, ARGV[6])
  end
elseif mode == 'rev' then
  local last = bound(ARGV[6])
  if low and ARGV[5] ~= '+' and tonumber(ARGV[5]) < low then
    return {top, epoch, entries}
  end
  if ARGV[7] ~= '' then
    entries = redis.call('xrevrange', KEYS[1], ARGV[5], last, 'COUNT', ARGV[7])
  else
    entries = redis.call('xrevrange', KEYS[1], ARGV[5], last)
  end
end
return {top, epoch, entries}
"#,
    )
});

/// Drops presence entries whose expiry passed (shared by the presence
/// scripts). KEYS: info, expiry, client→user, user counts.
const PRESENCE_EXPIRE: &str = r#"
local function expire_presence(now)
  local gone = redis.call('zrangebyscore', KEYS[2], '-inf', now)
  for _, client in ipairs(gone) do
    local user = redis.call('hget', KEYS[3], client)
    if user then
      if redis.call('hincrby', KEYS[4], user, -1) <= 0 then
        redis.call('hdel', KEYS[4], user)
      end
      redis.call('hdel', KEYS[3], client)
    end
    redis.call('hdel', KEYS[1], client)
  end
  if #gone > 0 then
    redis.call('zremrangebyscore', KEYS[2], '-inf', now)
  end
end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"#;

/// Adds or refreshes a presence entry. ARGV: client, user, info, ttl ms.
pub(crate) static PRESENCE_ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{PRESENCE_EXPIRE}
expire_presence(now)
local client, user, ttl = ARGV[1], ARGV[2], tonumber(ARGV[4])
local old = redis.call('hget', KEYS[3], client)
if old ~= user then
  if old then
    if redis.call('hincrby', KEYS[4], old, -1) <= 0 then
      redis.call('hdel', KEYS[4], old)
    end
  end
  redis.call('hincrby', KEYS[4], user, 1)
  redis.call('hset', KEYS[3], client, user)
end
redis.call('hset', KEYS[1], client, ARGV[3])
redis.call('zadd', KEYS[2], now + ttl, client)
for i = 1, 4 do
  redis.call('pexpire', KEYS[i], ttl)
end
return 1
"#
    ))
});

/// Removes a presence entry. ARGV: client.
pub(crate) static PRESENCE_REMOVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{PRESENCE_EXPIRE}
expire_presence(now)
local client = ARGV[1]
local user = redis.call('hget', KEYS[3], client)
if user then
  if redis.call('hincrby', KEYS[4], user, -1) <= 0 then
    redis.call('hdel', KEYS[4], user)
  end
  redis.call('hdel', KEYS[3], client)
end
redis.call('hdel', KEYS[1], client)
redis.call('zrem', KEYS[2], client)
return 1
"#
    ))
});

/// The present clients: `{client, user, info, …}` flattened.
pub(crate) static PRESENCE_GET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{PRESENCE_EXPIRE}
expire_presence(now)
local out = {{}}
local all = redis.call('hgetall', KEYS[1])
for i = 1, #all, 2 do
  local user = redis.call('hget', KEYS[3], all[i]) or ''
  out[#out + 1] = all[i]
  out[#out + 1] = user
  out[#out + 1] = all[i + 1]
end
return out
"#
    ))
});

/// Presence counts: `{clients, users}`, without reading the entries.
pub(crate) static PRESENCE_STATS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{PRESENCE_EXPIRE}
expire_presence(now)
return {{redis.call('hlen', KEYS[1]), redis.call('hlen', KEYS[4])}}
"#
    ))
});
