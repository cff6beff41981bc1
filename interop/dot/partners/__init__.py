"""The Podero organisation users API, as the interop suite needs it, behind DOT."""
