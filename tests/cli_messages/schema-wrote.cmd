netspec schema -o schema.json
