// Command genschema writes the JSON Schema of one UniversalEvent (see
// schema.JSONSchema) to the file named by its argument, or to stdout when
// the argument is "-". `go generate ./schema` runs it.
package main

import (
	"fmt"
	"os"

	"github.com/agentd-dev/agentd/schema"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genschema FILE|-")
		os.Exit(2)
	}
	doc, err := schema.JSONSchema()
	if err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
	if os.Args[1] == "-" {
		_, err = os.Stdout.Write(doc)
	} else {
		err = os.WriteFile(os.Args[1], doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genschema:", err)
		os.Exit(1)
	}
}
