// Package nobody runs a test again as the unprivileged user nobody, for
// tests of file permissions that the superuser bypasses: to root no file is
// read-only, so such a test proves nothing where the tests run as root, as
// they do in many containers and CI jobs.
package nobody

import "testing"

// envChild marks the re-run, which must not run as root again.
const envChild = "EVALPIN_TEST_AS_NOBODY"

// Rerun reports whether the calling test should go on in this process: true
// when the process is not root. As root it runs the test again, alone, in a
// copy of the test binary as user nobody (uid and gid 65534), reports that
// run's failure as its own (or skips, where the system does not let it
// switch users), and returns false. It is for top-level tests only.
func Rerun(t *testing.T) bool {
	t.Helper()
	return rerun(t)
}
