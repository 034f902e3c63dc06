// Package e2e is the real-agent harness: its tests start the scripted model
// (internal/fakemodel), point each real agent CLI at it, run agentd's engine
// and HTTP API in process, and drive every scenario through the public API
// the way a user does — create a session, send messages, answer permissions
// and questions, interrupt — reading the universal events over SSE.
//
// Each agent × scenario run is compared with a reviewed golden stream
// (testdata/<agent>/<scenario>.golden, shapes rather than ids and times),
// and the features each run proves are collected into the coverage table,
// docs/agent-coverage.md, which the test fails on when the committed table
// says something the run did not prove (or misses what it did).
//
//	go test ./internal/e2e                 # run, compare goldens and the table
//	go test ./internal/e2e -update         # rewrite goldens and the table
//
// Agents whose binary is missing are skipped, loudly; the table is then not
// compared, since the run cannot prove their column.
package e2e
