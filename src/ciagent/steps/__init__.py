"""One module per graph node; each a typed async function (state, context) -> partial state."""
