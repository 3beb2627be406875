package cli

// AppliedReview is plan's Kubernetes review against the revision Flux
// applied, for the tests.
var AppliedReview = appliedReview
