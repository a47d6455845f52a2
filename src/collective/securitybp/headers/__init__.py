"""Response security headers and the CSP report collector."""
