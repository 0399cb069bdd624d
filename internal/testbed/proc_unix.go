//go:build unix && !linux

package testbed

import (
	"os"
	"syscall"
)

// sysProcAttr puts the server in its own process group, so killGroup also
// reaches the runner processes it starts.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}
