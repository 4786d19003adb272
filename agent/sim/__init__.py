"""The SIM card: status, unlocking and PIN management under the safety rules."""
