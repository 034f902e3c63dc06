// Package schema defines agentd's universal event model: the envelope every
// agent's output is translated into, its payloads, items and content parts.
//
// The wire format is a superset of the sandbox-agent v1 universal schema:
// snake_case fields, fields that the reference always emits are always
// present (null when unknown), and optional ones are omitted when absent.
package schema
