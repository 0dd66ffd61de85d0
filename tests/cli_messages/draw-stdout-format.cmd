netspec draw lenet5.yaml --format svg
