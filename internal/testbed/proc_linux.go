package testbed

import (
	"os"
	"syscall"
)

// sysProcAttr puts the server in its own process group, so killGroup also
// reaches the runner processes it starts, and has the kernel kill it if the
// process that started it dies first (a test binary that panics or times
// out leaves no server behind).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	_ = p.Kill()
}
