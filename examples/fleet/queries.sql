-- What a control plane runs against the database every agentd ships to.
-- psql variables: :'daemon' and :'session' pick one transcript.

-- Every daemon that ever shipped, with its sessions and events.
SELECT s.daemon_id, count(DISTINCT s.session_id) AS sessions, sum(s.last_sequence) AS events,
       max(s.updated_at) AS last_activity
FROM agentd.sessions s
GROUP BY s.daemon_id
ORDER BY s.daemon_id;

-- One session's transcript, in order: what the assistant said, tool by tool.
SELECT e.sequence, e.time, e.type,
       coalesce(e.data->>'delta', e.data->'item'->>'kind', e.data->>'phase', '') AS what
FROM agentd.events e
WHERE e.daemon_id = :'daemon' AND e.session_id = :'session'
ORDER BY e.sequence;

-- All sessions of an agent, newest first, across every daemon.
SELECT s.daemon_id, s.session_id, s.created_at, s.last_sequence AS events,
       (s.info->>'ended')::boolean AS ended
FROM agentd.sessions s
WHERE s.agent = 'mock'
ORDER BY s.created_at DESC, s.daemon_id, s.session_id;

-- Token usage by day and agent (agents that report it on turn.ended).
SELECT date_trunc('day', e.time) AS day, s.agent,
       sum((e.data->'metadata'->'usage'->>'inputTokens')::bigint) AS input_tokens,
       sum((e.data->'metadata'->'usage'->>'outputTokens')::bigint) AS output_tokens,
       count(*) AS turns
FROM agentd.events e
JOIN agentd.sessions s USING (daemon_id, session_id)
WHERE e.type = 'turn.ended'
GROUP BY 1, 2
ORDER BY 1, 2;
