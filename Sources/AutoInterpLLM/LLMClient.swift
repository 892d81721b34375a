// The LLM client lives in this module (see issue 3).
