"""The project's own llama.cpp-compatible LLM server (see AGENTS.md in this folder)."""
