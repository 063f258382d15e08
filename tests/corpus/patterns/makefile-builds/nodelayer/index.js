exports.settings = { region: "local" };
