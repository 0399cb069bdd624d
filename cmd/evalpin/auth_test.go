package main

import "testing"

// noOpenAIEnv clears the OpenAI variables for a test, which would otherwise
// pick an endpoint and a key from the developer's shell.
func noOpenAIEnv(t testing.TB) {
	t.Helper()
	t.Setenv(envAPIKey, "")
	t.Setenv(envBaseURL, "")
}
