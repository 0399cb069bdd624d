package main

import "embed"

// The help texts of the commands, one file each under help/: text a user
// reads, kept apart from the code that wires the commands.
//
//go:embed help/*.txt
var helpFiles embed.FS

// help returns the help text help/NAME.txt.
func help(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".txt")
	if err != nil {
		panic("evalpin: no help text " + name) // at init: every test and every run fails at once
	}
	return string(b)
}
