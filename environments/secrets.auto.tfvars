# A stand-in secret for the example. tfops.yaml masks anything shaped like it.
dfp_api_key = "dfp_live_5f3a9c2e7b1d4e6f"
