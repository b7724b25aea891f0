"""Rule-based classification: tables of codes and phrases, and the engine that reads them."""
