# frozen_string_literal: true

# The Ruby shim's `ti.xcom_pull` against real Airflow's (fixtures/xcom_pull.json at the
# repo root, written by tools/xcom-pull/generate.py); run by run_tests.sh.
#
#   ruby xcom_pull.rb [TABLE]
#
# Loads ../ruby_shim.rb without its last line (the `exit(TaskRunner.main(...))` that runs
# a task) and, for every case and Airflow major, builds the shim's TaskInstance over the
# case's rows with that major and makes the call, keywords as Ruby keywords. The value
# must be Airflow's; where Airflow raised, the shim must raise too.
require 'json'

here = __dir__
shim = File.join(here, '..', 'ruby_shim.rb')
source = File.read(shim).sub(/^exit\(TaskRunner\.main\(ARGV\.dup\)\)\s*\z/, '')
raise 'ruby_shim.rb no longer ends with its exit(TaskRunner.main(...)) line' if source == File.read(shim)

eval(source, TOPLEVEL_BINDING, shim, 1) # rubocop:disable Security/Eval

table = JSON.parse(File.read(ARGV[0] || File.join(here, '..', '..', 'fixtures', 'xcom_pull.json')))
ran = 0
failed = 0
table['cases'].each do |c|
  c['expect'].sort.each do |major, expect|
    ran += 1
    ti = TaskRunner::TaskInstance.new(table['ti'], table['rows'][c['rows']], major.to_i)
    kwargs = c['kwargs'].to_h { |k, v| [k.to_sym, v] }
    got = begin
      { 'value' => ti.xcom_pull(*c['args'], **kwargs) }
    rescue StandardError => e
      { 'error' => "#{e.class}: #{e.message}" }
    end
    ok = expect.key?('error') ? got.key?('error') : got == { 'value' => expect['value'] }
    next if ok

    failed += 1
    puts "FAIL #{c['name']} (Airflow #{major})\n    expected #{expect.to_json}\n    got      #{got.to_json}"
  end
end
versions = table['airflow_versions'].sort.map(&:last).join(' and ')
puts "xcom_pull table (Airflow #{versions}) on Ruby #{RUBY_VERSION}: #{ran} run, #{failed} failed"
exit(failed.zero? && ran.positive? ? 0 : 1)
