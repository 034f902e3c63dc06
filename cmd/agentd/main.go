// Command agentd is the daemon and its command-line client.
package main

import (
	"os"

	"github.com/agentd-dev/agentd/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
