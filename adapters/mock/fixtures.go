package mock

// The fixed texts of the mock's scripts. Compatibility tests compare them
// byte for byte with the reference (spec §13.4), so they are kept verbatim.

const helpText = "Mock agent commands:\n" +
	"- demo: run a full UI coverage sequence with markers.\n" +
	"- markdown: streaming markdown fixture.\n" +
	"- tool: tool call + tool result with file refs.\n" +
	"- status: status item updates.\n" +
	"- image: message with image content part.\n" +
	"- unknown: item.kind=unknown example.\n" +
	"- permission: permission requests (pending).\n" +
	"- question: question requests (pending).\n" +
	"- error: error + agent.unparsed events.\n" +
	"- unparsed: emit agent.unparsed only.\n" +
	"- end: emit session.ended.\n" +
	"\n" +
	"Any other text will be echoed as an assistant message."

const echoUsage = "Tell me what to say after `echo`."

const markdownIntro = "Markdown demo (streaming follows)..."

// markdownDeltas split the document mid-token on purpose, so clients are
// exercised on markdown that is only well-formed once joined.
var markdownDeltas = []string{
	"# Markdown Demo\n\n**Bo",
	"ld**, *ita",
	"lic*, ***bold-",
	"italic***, and ~~stri",
	"kethrough~~.\n\nInline code: `const x = 1`.\n\n## Lists\n- Item one\n  - Nested item\n- Item two\n\n1.",
	" First\n2. Second\n\n> Blockquote with **bold** text.\n\n## Code\n```t",
	"s\nconst answer: number = 42;\nconsole.log(answer);\n```\n\n## Table\n| Column A | Column B |\n|:---------|---------:|\n| Left",
	"     | Right    |\n| Alpha    | Beta     |\n\n## Link\n[Example](https://example.com)\n\n---\n\nEnd of markdown demo.",
}

// demoMarkers announce each section of the demo; marker i has native id P_marker_<i+1>.
var demoMarkers = []string{
	"Next: system message (system role).",
	"Next: assistant message with deltas, reasoning, and JSON content parts.",
	"Next: status item updates.",
	"Next: markdown rendering + streaming markdown deltas.",
	"Next: tool call item.",
	"Next: image output content part.",
	"Next: unknown item kind.",
	"Next: permission requests (pending).",
	"Next: question requests (pending).",
	"Next: error and agent.unparsed events.",
}
