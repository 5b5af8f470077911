"""Test support code: real local servers the network tests talk to."""
