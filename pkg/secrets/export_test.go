package secrets

// SetCrashHook makes every step of a rekey commit call hook first; an
// error stops the commit there, as a crash would (see commit).
func SetCrashHook(hook func(step string) error) { crashHook = hook }
